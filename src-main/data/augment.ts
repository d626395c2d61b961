/**
 * Training-data augmentation as torchvision's RandomCrop(size, padding=p) on a PIL image (odenet_mnist.py's
 * data_aug): pad each side with p black pixels, take a window of the image's own size at a random offset 0..2p in
 * each direction. Done while a batch is built from the uint8 images, in plain typed arrays (no padded copy).
 *
 * Each image's offsets are a pure function of (seed, epoch, its place in the epoch's order), not of a generator's
 * position: a resumed epoch that skips its first batches without building them, a batch split over worker
 * threads, or another batch size crop every image as an uninterrupted run does.
 */
import { hashKeys } from './shapes/rng';

const CROP_STREAM = 0xc409;

/** The window's top-left corner in the padded image, each in 0..2·padding: row `dy`, column `dx`. */
export function cropOffset(seed: number, epoch: number, position: number, padding: number): { dy: number; dx: number } {
  const span = 2 * padding + 1;
  // One 32-bit hash for both: the modulo's bias (span² ≪ 2³²) is below 1e-7.
  const h = hashKeys([seed, CROP_STREAM, epoch, position]);
  return { dy: h % span, dx: Math.floor(h / span) % span };
}

/**
 * Writes the crop of image `src` (h×w×c bytes at srcStart) at (dy, dx) of its `padding`-padded copy into `dst` at
 * dstStart, each byte through `table` (normalisation). The border is table[0], the normalised value of a black
 * byte: padding happens in the pixels' own scale, before normalising, as RandomCrop pads before ToTensor.
 */
export function writeCrop(
  dst: Float32Array,
  dstStart: number,
  src: Uint8Array,
  srcStart: number,
  shape: readonly [number, number, number],
  offset: { dy: number; dx: number },
  padding: number,
  table: Float32Array,
): void {
  const [h, w, c] = shape;
  const black = table[0];
  const row = w * c;
  // Source columns the window covers: x + dx − padding for x in [0, w), clipped to the image.
  const x0 = Math.max(0, padding - offset.dx);
  const x1 = Math.min(w, w + padding - offset.dx);
  const shift = (offset.dx - padding) * c;
  for (let y = 0; y < h; y++) {
    const out = dstStart + y * row;
    const sy = y + offset.dy - padding;
    if (sy < 0 || sy >= h || x1 <= x0) {
      dst.fill(black, out, out + row);
      continue;
    }
    dst.fill(black, out, out + x0 * c);
    const from = srcStart + sy * row + shift;
    for (let p = x0 * c; p < x1 * c; p++) dst[out + p] = table[src[from + p]];
    dst.fill(black, out + x1 * c, out + row);
  }
}
