/** The notes on a run's start, on a terminal or in JSON lines: each a `warning:` line on stderr, apart from the run's lines. */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { jsonLinesReporter, progressReporter } from '../../src-main/cli/reporters';
import type { StartedEvent } from '../../src-shared/run-events';
import { tinyConfig } from '../train/fixtures';

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

const started = (notes: Partial<StartedEvent>) =>
  ({ event: 'started', config: tinyConfig(), backend: 'cpu', parameterCount: 10, trainSize: 240, testSize: 70, batchesPerEpoch: 4, startEpoch: 1, startStep: 4, datasetSource: 'data-dir', ...notes }) as StartedEvent;

afterEach(() => vi.restoreAllMocks());

/** What the code under test writes to stderr, one entry per write, until the test's end. */
function captureStderr(): string[] {
  const stderr: string[] = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (stderr.push(String(chunk)), true));
  return stderr;
}

describe('progressReporter on a run start', () => {
  it('prints the backend and dataset notes as warnings on stderr, and nothing without them', () => {
    const stderr = captureStderr();
    const out = new Sink();
    const { event } = progressReporter({ out, bars: new Sink() });
    event(started({ backendNote: 'the cpu backend is slow', datasetNote: 'the checkpoint this run starts from was trained on another copy' }));
    expect(stderr).toEqual(['warning: the cpu backend is slow\n', 'warning: the checkpoint this run starts from was trained on another copy\n']);
    expect(out.text).not.toContain('warning');
    event(started({}));
    expect(stderr).toHaveLength(2);
  });

  it('prints them on stderr in JSON lines mode too (piped, --json), beside the fields that carry them', () => {
    const stderr = captureStderr();
    const lines: string[] = [];
    const { event } = jsonLinesReporter({ runId: 3 }, (l) => lines.push(l));
    event(started({ backendNote: 'the cpu backend is slow' }));
    expect(stderr).toEqual(['warning: the cpu backend is slow\n']);
    expect(JSON.parse(lines[0])).toMatchObject({ event: 'started', backendNote: 'the cpu backend is slow', runId: 3 });
    event(started({}));
    expect(stderr).toHaveLength(1);
  });

  it('tells how far a test-set evaluation has got as JSON lines on stderr, with the run id', () => {
    const stderr = captureStderr();
    const lines: string[] = [];
    const { testing } = jsonLinesReporter({ runId: 3 }, (l) => lines.push(l));
    testing!({ epoch: 1, step: 45, done: 500, total: 6000 });
    expect(stderr.map((l) => JSON.parse(l))).toEqual([{ phase: 'test', epoch: 1, step: 45, done: 500, total: 6000, runId: 3 }]);
    expect(lines).toEqual([]);
  });
});
