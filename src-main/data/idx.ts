/**
 * IDX files (the MNIST format): a 4-byte magic `00 00 <type> <ndims>`, ndims big-endian uint32 dimensions, then
 * the data. We read unsigned-byte images (magic 2051, 3 dims) and labels (magic 2049, 1 dim), gzip-compressed or
 * raw — told apart by the gzip signature, never by the file name — and reject anything else as DATASET_CORRUPT
 * with the file, what was expected and what was found.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { LabError } from '../../src-shared/errors';
import { fmtInt } from './format';

export type IdxKind = 'images' | 'labels';
export const IDX_MAGIC: Readonly<Record<IdxKind, number>> = { images: 2051, labels: 2049 };
const UBYTE = 0x08;
/** A decompressed IDX larger than this is not a dataset we can hold anyway; it also stops gzip bombs. */
const MAX_DECODED_BYTES = 2 ** 31 - 1;

export interface IdxFile {
  kind: IdxKind;
  /** [count, rows, cols] for images, [count] for labels. */
  dims: number[];
  /** The payload after the header (a view, not a copy). */
  data: Uint8Array;
  gzipped: boolean;
  /** The file name used in messages. */
  name: string;
}

export interface ReadIdxOptions {
  /** Require this kind; otherwise images and labels are both accepted. */
  expect?: IdxKind;
  /** Name for messages when reading bytes (defaults to the file's base name for paths). */
  name?: string;
}

const gunzipAsync = promisify(gunzip);

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function corrupt(name: string, expected: string, found: string, extra = ''): LabError {
  return new LabError('DATASET_CORRUPT', `${name}: expected ${expected}, found ${found}${extra}`, {
    file: name,
    expected,
    found,
  });
}

/** Reads and validates an IDX file from a path or from its bytes. */
export async function readIdx(pathOrBytes: string | Uint8Array, opts: ReadIdxOptions = {}): Promise<IdxFile> {
  let bytes: Uint8Array;
  let name = opts.name ?? 'IDX data';
  if (typeof pathOrBytes === 'string') {
    name = opts.name ?? path.basename(pathOrBytes);
    try {
      bytes = await readFile(pathOrBytes);
    } catch (e) {
      throw new LabError('DATASET_NOT_FOUND', `${pathOrBytes}: cannot read (${(e as Error).message})`, {
        file: pathOrBytes,
      });
    }
  } else {
    bytes = pathOrBytes;
  }
  const gzipped = isGzip(bytes);
  const decoded = gzipped ? await gunzipBytes(bytes, name) : bytes;
  return parseIdx(decoded, name, gzipped, opts.expect);
}

async function gunzipBytes(bytes: Uint8Array, name: string): Promise<Uint8Array> {
  try {
    return await gunzipAsync(bytes, { maxOutputLength: MAX_DECODED_BYTES });
  } catch (e) {
    const reason = (e as Error).message;
    const found = /unexpected end/i.test(reason)
      ? `a gzip stream cut short after ${fmtInt(bytes.length)} compressed bytes (${reason})`
      : `a damaged gzip stream (${reason})`;
    throw corrupt(name, 'a complete gzip stream', found);
  }
}

/** Validates the header against the payload and returns a view of the data. */
export function parseIdx(bytes: Uint8Array, name: string, gzipped = false, expect?: IdxKind): IdxFile {
  const what = gzipped ? ' (decompressed)' : '';
  const expectedMagic = expect ? `magic ${IDX_MAGIC[expect]} (IDX ${expect})` : 'magic 2051 (IDX images) or 2049 (IDX labels)';
  if (bytes.length < 4) {
    throw corrupt(name, expectedMagic, `a ${bytes.length}-byte file, too short for an IDX header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  const found = describeMagic(magic);
  if (bytes[0] !== 0 || bytes[1] !== 0) throw corrupt(name, expectedMagic, `${found} — not an IDX file`);
  if (bytes[2] !== UBYTE) {
    throw corrupt(name, 'IDX data type 0x08 (unsigned byte)', `type 0x${bytes[2].toString(16).padStart(2, '0')}`);
  }
  const kind: IdxKind | undefined = magic === IDX_MAGIC.images ? 'images' : magic === IDX_MAGIC.labels ? 'labels' : undefined;
  if (kind === undefined || (expect && kind !== expect)) throw corrupt(name, expectedMagic, found);

  const ndims = bytes[3];
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw corrupt(name, `a ${headerBytes}-byte header`, `the file truncated at byte ${fmtInt(bytes.length)}${what}`);
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i));
  const zero = dims.findIndex((d) => d === 0);
  if (zero >= 0) throw corrupt(name, 'non-zero dimensions', `dimension ${zero} = 0 (${dims.join('×')})`);

  const payload = dims.reduce((a, b) => a * b, 1);
  const expectedTotal = headerBytes + payload;
  if (bytes.length < expectedTotal) {
    throw corrupt(
      name,
      `${fmtInt(expectedTotal)} bytes for ${dims.join('×')}${what}`,
      `the data truncated at byte ${fmtInt(bytes.length)} of ${fmtInt(expectedTotal)}`,
    );
  }
  if (bytes.length > expectedTotal) {
    throw corrupt(
      name,
      `${fmtInt(expectedTotal)} bytes for ${dims.join('×')}${what}`,
      `${fmtInt(bytes.length)} bytes (${fmtInt(bytes.length - expectedTotal)} after the end of the data)`,
    );
  }
  return { kind, dims, data: bytes.subarray(headerBytes), gzipped, name };
}

function describeMagic(magic: number): string {
  const hex = `0x${magic.toString(16).padStart(8, '0')}`;
  if (magic === IDX_MAGIC.images) return `magic 2051 (IDX images)`;
  if (magic === IDX_MAGIC.labels) return `magic 2049 (IDX labels)`;
  return `magic ${magic} (${hex})`;
}

/** Writes an unsigned-byte IDX file (used for the shapes cache and test fixtures). */
export function encodeIdx(kind: IdxKind, dims: readonly number[], data: Uint8Array): Uint8Array {
  const expectedDims = kind === 'images' ? 3 : 1;
  const payload = dims.reduce((a, b) => a * b, 1);
  if (dims.length !== expectedDims || payload !== data.length) {
    throw new LabError('INVALID_ARGUMENT', `encodeIdx: ${kind} need ${expectedDims} dims matching ${data.length} bytes, got ${dims.join('×')}`);
  }
  const header = idxHeader(kind, dims);
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

/** The header of an unsigned-byte IDX file: magic, then the dimensions (big-endian uint32). */
export function idxHeader(kind: IdxKind, dims: readonly number[]): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, IDX_MAGIC[kind]);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  return out;
}
