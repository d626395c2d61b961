/**
 * How `odelab train` shows a run: a progress bar per epoch on a TTY, or one JSON object per event per line
 * (machine-readable, also with --json). Both take the runner's RunEvents as they arrive.
 */
import cliProgress from 'cli-progress';
import type { RunEvent, TestingProgress } from '../../src-shared/run-events';
import { describeError } from '../../src-shared/errors';

/** Shows a run's events; `testing`, when it has it, shows how far a test-set evaluation has got. */
export interface Reporter {
  event: (e: RunEvent) => void;
  testing?: (p: TestingProgress) => void;
}

/** A run start's notes (a slow backend, a checkpoint trained on another copy), each a `warning:` line on stderr. */
function warnStartNotes(e: RunEvent): void {
  if (e.event !== 'started') return;
  if (e.backendNote) process.stderr.write(`warning: ${e.backendNote}\n`);
  if (e.datasetNote) process.stderr.write(`warning: ${e.datasetNote}\n`);
}

/**
 * One JSON object per event; `extra` fields (the run's id in the store) are added to each. The start's notes are
 * also told on stderr, as on a terminal: whoever watches a piped run's stderr should not have to parse them out.
 * So is how far a test-set evaluation has got, as `eval --json` tells its own (`{"phase":"test",…}` lines): scoring
 * the shapes presets' 6000 test images with an implicit solver takes minutes, silent on stdout.
 */
export function jsonLinesReporter(extra: Record<string, unknown> = {}, write: (line: string) => void = (l) => process.stdout.write(l)): Reporter {
  return {
    event: (e) => {
      write(JSON.stringify({ ...e, ...extra }) + '\n');
      warnStartNotes(e);
    },
    testing: (p) => process.stderr.write(JSON.stringify({ phase: 'test', ...p, ...extra }) + '\n'),
  };
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

function makeBar(format: string, stream: NodeJS.WritableStream, { clearOnComplete = false } = {}): cliProgress.SingleBar {
  return new cliProgress.SingleBar({ format, hideCursor: true, clearOnComplete, stream }, cliProgress.Presets.shades_classic);
}

const imagesFormat = (label: string) => `  ${label} {bar} {value}/{total} images | ETA {eta_formatted}`;

/** How far `odelab eval` has got through its images (tens of thousands for a training split), cleared at the end. */
export function scoringBar(bars: NodeJS.WritableStream = process.stderr): { update: (done: number, total: number) => void; stop: () => void } {
  let bar: cliProgress.SingleBar | undefined;
  return {
    update: (done, total) => (bar ? bar.update(done) : (bar = makeBar(imagesFormat('scoring'), bars, { clearOnComplete: true })).start(total, done)),
    stop: () => bar?.stop(),
  };
}

type BarPayload = { loss: string; acc: string; nfe: string };

/** Lines (the run's facts, each epoch, the end) go to `out`; the bars, redrawn in place, to `bars` (a TTY). */
export function progressReporter({ out = process.stdout, bars = process.stderr }: { out?: NodeJS.WritableStream; bars?: NodeJS.WritableStream } = {}): Reporter {
  /** The bar on screen, if any: the epoch's batches, or a test-set evaluation's images (cleared when it ends). */
  let bar: cliProgress.SingleBar | undefined;
  let showing: 'batches' | 'testing' | undefined;
  let perEpoch = 0;
  /** Where the epoch's bar stands, so it can be put back as it was after a line or an evaluation. */
  let at = { epoch: 0, batch: 0, payload: { loss: '-', acc: '-', nfe: '-' } as BarPayload };
  const show = (kind: 'batches' | 'testing', total: number, value: number, payload: object) => {
    bar?.stop();
    bar =
      kind === 'batches'
        ? makeBar(`epoch ${at.epoch} {bar} {value}/{total} | loss {loss} | acc {acc} | NFE {nfe} | ETA {eta_formatted}`, bars)
        : makeBar(imagesFormat('testing'), bars, { clearOnComplete: true });
    bar.start(total, value, payload);
    showing = kind;
  };
  const log = (line: string) => {
    bar?.stop();
    bar = showing = undefined;
    out.write(line + '\n');
  };
  const event = (e: RunEvent) => {
    switch (e.event) {
      case 'started':
        perEpoch = e.batchesPerEpoch;
        out.write(
          `${e.config.model.name} on ${e.config.dataset.kind} (${e.trainSize} train / ${e.testSize} test, ` +
            `${e.parameterCount} parameters, backend ${e.backend}, data: ${e.datasetSource})\n`,
        );
        warnStartNotes(e);
        break;
      case 'batch': {
        // A new epoch: its first batch here may be a later one (a run resumed mid-epoch goes on from its resume point).
        const newEpoch = e.epoch !== at.epoch;
        if (newEpoch) at = { epoch: e.epoch, batch: e.batch - 1, payload: { loss: '-', acc: '-', nfe: '-' } };
        // A new epoch, or the bar back after a line or an evaluation, where it was (its ETA restarts from here).
        if (showing !== 'batches' || newEpoch) show('batches', perEpoch, at.batch, at.payload);
        at = { epoch: e.epoch, batch: e.batch, payload: { loss: e.loss.toFixed(4), acc: pct(e.accuracy), nfe: `${e.nfeForward}/${e.nfeBackward}` } };
        bar!.update(e.batch, at.payload);
        break;
      }
      case 'evaluation':
        log(`  eval at step ${e.step}: test loss ${e.testLoss.toFixed(4)}, accuracy ${pct(e.testAccuracy)}`);
        break;
      case 'epoch':
        log(
          `epoch ${e.epoch}: loss ${e.loss.toFixed(4)} acc ${pct(e.accuracy)} | test loss ${e.testLoss.toFixed(4)} ` +
            `acc ${pct(e.testAccuracy)} | NFE fwd ${e.nfeForwardMean.toFixed(1)} (max ${e.nfeForwardMax}) ` +
            `bwd ${e.nfeBackwardMean.toFixed(1)} | ${e.seconds.toFixed(1)} s`,
        );
        break;
      case 'checkpoint':
        // A resume point (on a cancel, or every --checkpoint-every minutes) is taken mid-epoch: a line, then the bar again.
        if (e.batch !== undefined) log(`  resume point: epoch ${e.epoch}, batch ${e.batch} (step ${e.step}), ${(e.bytes / 1024).toFixed(0)} KiB${e.path ? ` (${e.path})` : ''}`);
        else out.write(`  checkpoint: epoch ${e.epoch}, ${(e.bytes / 1024).toFixed(0)} KiB${e.path ? ` (${e.path})` : ''}\n`);
        break;
      case 'ended':
        log(`run ${e.status} after ${e.epochsCompleted} epoch(s), ${e.seconds.toFixed(1)} s` + (e.error ? `\n${describeError(e.error)}` : ''));
        break;
    }
  };
  // The epoch's bar stays on screen as it ended; the images being scored get their own bar below it.
  const testing = (p: TestingProgress) => (showing === 'testing' ? bar!.update(p.done) : show('testing', p.total, p.done, {}));
  return { event, testing };
}
