/**
 * How `odelab train` shows a run: a progress bar per epoch on a TTY, or one JSON object per event per line
 * (machine-readable, also with --json). Both take the runner's RunEvents as they arrive.
 */
import cliProgress from 'cli-progress';
import type { RunEvent } from '../../src-shared/run-events';
import { describeError } from '../../src-shared/errors';

export type Reporter = (e: RunEvent) => void;

/** One JSON object per event; `extra` fields (the run's id in the store) are added to each. */
export function jsonLinesReporter(extra: Record<string, unknown> = {}, write: (line: string) => void = (l) => process.stdout.write(l)): Reporter {
  return (e) => write(JSON.stringify({ ...e, ...extra }) + '\n');
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

type BarPayload = { loss: string; acc: string; nfe: string };

export function progressReporter(): Reporter {
  let bar: cliProgress.SingleBar | undefined;
  let perEpoch = 0;
  /** Where the bar stands, so a line printed mid-epoch (an evaluation) can put it back as it was. */
  let at = { epoch: 0, batch: 0, payload: { loss: '-', acc: '-', nfe: '-' } as BarPayload };
  const startBar = () => {
    bar = new cliProgress.SingleBar(
      { format: `epoch ${at.epoch} {bar} {value}/{total} | loss {loss} | acc {acc} | NFE {nfe} | ETA {eta_formatted}`, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(perEpoch, at.batch, at.payload);
  };
  const log = (line: string) => (bar ? bar.stop() : undefined, process.stdout.write(line + '\n'));
  return (e) => {
    switch (e.event) {
      case 'started':
        perEpoch = e.batchesPerEpoch;
        process.stdout.write(
          `${e.config.model.name} on ${e.config.dataset.kind} (${e.trainSize} train / ${e.testSize} test, ` +
            `${e.parameterCount} parameters, backend ${e.backend}, data: ${e.datasetSource})\n`,
        );
        if (e.backendNote) process.stderr.write(`warning: ${e.backendNote}\n`);
        break;
      case 'batch':
        if (!bar || e.batch === 1) {
          at = { epoch: e.epoch, batch: e.batch - 1, payload: { loss: '-', acc: '-', nfe: '-' } };
          startBar();
        }
        at = { epoch: e.epoch, batch: e.batch, payload: { loss: e.loss.toFixed(4), acc: pct(e.accuracy), nfe: `${e.nfeForward}/${e.nfeBackward}` } };
        bar!.update(e.batch, at.payload);
        break;
      case 'evaluation':
        // Printed above the bar, which carries on where it was (its ETA restarts from here).
        log(`  eval at step ${e.step}: test loss ${e.testLoss.toFixed(4)}, accuracy ${pct(e.testAccuracy)}`);
        if (bar) startBar();
        break;
      case 'epoch':
        log(
          `epoch ${e.epoch}: loss ${e.loss.toFixed(4)} acc ${pct(e.accuracy)} | test loss ${e.testLoss.toFixed(4)} ` +
            `acc ${pct(e.testAccuracy)} | NFE fwd ${e.nfeForwardMean.toFixed(1)} (max ${e.nfeForwardMax}) ` +
            `bwd ${e.nfeBackwardMean.toFixed(1)} | ${e.seconds.toFixed(1)} s`,
        );
        bar = undefined;
        break;
      case 'checkpoint':
        process.stdout.write(`  checkpoint: epoch ${e.epoch}, ${(e.bytes / 1024).toFixed(0)} KiB${e.path ? ` (${e.path})` : ''}\n`);
        break;
      case 'ended':
        bar?.stop();
        process.stdout.write(
          `run ${e.status} after ${e.epochsCompleted} epoch(s), ${e.seconds.toFixed(1)} s` +
            (e.error ? `\n${describeError(e.error)}` : '') +
            '\n',
        );
        break;
    }
  };
}
