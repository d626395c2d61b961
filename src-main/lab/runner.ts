/**
 * The Runner owns training processes: one process per run, a queue (one run at a time by default), cancel,
 * and crash handling — a process that dies without saying 'ended' is reported as failed: CRASHED, never a hang.
 * Events stream to listeners as they arrive ('event', and 'checkpoint-data' with a checkpoint's bytes just before
 * its 'checkpoint' event). With an `outDir`, the runner also writes `events.jsonl` and `checkpoints/` there.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { RunConfig } from '../../src-shared/run-config';
import type { EndedEvent, RunErrorInfo, RunEvent } from '../../src-shared/run-events';
import { stoppedByUser, type FromTrainer, type StartMessage, type ToTrainer } from './protocol';
import { RunFolder } from './run-folder';

export interface RunRequest {
  config: RunConfig;
  /** Also keep the run as files here: events.jsonl and checkpoints/epoch-NNN.ckpt. */
  outDir?: string;
  dataDir?: string;
  backend?: StartMessage['backend'];
  /** Continue from these checkpoint bytes. */
  resumeFrom?: Uint8Array;
  /** They are this run's own and the run goes on (runs resume): see TrainOptions.continuing. */
  continuing?: boolean;
  /** Where that checkpoint stands: what an 'ended' says for a run stopped before its process said where it was. */
  startAt?: { epoch: number; step: number };
  workers?: number;
  /** Take a resume point every this many minutes of training (0 or absent: only when cancelled). */
  resumePointMinutes?: number;
}

export interface RunHandle {
  id: number;
  request: RunRequest;
  /**
   * 'event' (RunEvent), 'checkpoint-data' (CheckpointData), 'progress' (DataProgress: loading the dataset),
   * 'testing' (TestingProgress: a test-set evaluation under way)
   */
  events: EventEmitter;
  /** Resolves with the run's 'ended' event, whatever happened. */
  done: Promise<EndedEvent>;
  /**
   * Stop after the current batch (or in the evaluation under way); the process saves a resume point first, then the
   * run ends 'cancelled'. No timer cuts that short: kill() does, when asked.
   */
  cancel(): void;
  /** Stop now (a user who will not wait for the batch): kills the process; the run still ends 'cancelled'. */
  kill(): void;
  /** The process, once started (tests use it to kill one). */
  process?: ChildProcess;
}

/**
 * The 'ended' of a run whose process never said one (cancelled in the queue, a folder it could not write, a
 * process that died): where the run stood (`at`: the checkpoint it started from, or its last event) and how it ended.
 */
function unreportedEnd(
  at: { epoch: number; step: number } | undefined,
  seconds: number,
  outcome: { status: 'cancelled' } | { status: 'failed'; error: RunErrorInfo },
): EndedEvent {
  return { event: 'ended', epochsCompleted: at?.epoch ?? 0, step: at?.step ?? 0, seconds, ...outcome };
}

const ENTRY = fileURLToPath(new URL('./train-process.ts', import.meta.url));
const TSX_LOADER = import.meta.resolve('tsx');

export class Runner {
  private readonly queue: { handle: RunHandle; start: () => void }[] = [];
  private running = 0;
  private nextId = 1;

  constructor(private readonly concurrency = 1) {}

  enqueue(request: RunRequest): RunHandle {
    const events = new EventEmitter();
    let resolveDone!: (e: EndedEvent) => void;
    const done = new Promise<EndedEvent>((r) => (resolveDone = r));
    let cancelled = false;
    // Killed by the user (kill()): the process's exit is a cancel, not a crash.
    let killed = false;
    const endUnstarted = () => {
      const ended = unreportedEnd(request.startAt, 0, { status: 'cancelled' });
      events.emit('event', ended);
      resolveDone(ended);
    };
    const handle: RunHandle = {
      id: this.nextId++,
      request,
      events,
      done,
      cancel: () => {
        cancelled = true;
        // A second cancel (Ctrl-C, then runs cancel) can race the process's exit: the send then fails (EPIPE), which
        // without a callback is an 'error' event that would end this process; the exit ends the run anyway.
        if (handle.process?.connected) handle.process.send({ type: 'cancel' } satisfies ToTrainer, () => {});
        // Still waiting for its turn: it ends now rather than when the runs ahead of it have.
        else if (this.unqueue(handle)) endUnstarted();
      },
      kill: () => {
        cancelled = killed = true;
        if (handle.process) handle.process.kill('SIGKILL');
        else if (this.unqueue(handle)) endUnstarted();
      },
    };
    const start = () => {
      if (cancelled) {
        endUnstarted();
        this.finished();
        return;
      }
      this.launch(handle, { killed: () => killed, cancelled: () => cancelled }, (ended) => {
        resolveDone(ended);
        this.finished();
      });
    };
    this.queue.push({ handle, start });
    this.pump();
    return handle;
  }

  /** Takes a run that has not started off the queue; false if it is not there (started, or already gone). */
  private unqueue(handle: RunHandle): boolean {
    const i = this.queue.findIndex((q) => q.handle === handle);
    if (i >= 0) this.queue.splice(i, 1);
    return i >= 0;
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length > 0) {
      this.running++;
      this.queue.shift()!.start();
    }
  }

  private finished(): void {
    this.running--;
    this.pump();
  }

  /** `user`: whether the user has killed the run (kill()) or asked it to stop (cancel()), at the time of asking. */
  private launch(handle: RunHandle, user: { killed: () => boolean; cancelled: () => boolean }, onEnded: (e: EndedEvent) => void): void {
    const { request, events } = handle;
    let folder: RunFolder | undefined;
    try {
      folder = request.outDir ? new RunFolder(request.outDir, (problem) => events.emit('folder-error', problem)) : undefined;
    } catch (e) {
      // Checked before the run was created (prepareRunFolder), but the disk can change: end the run, never hang it.
      const message = `--out ${request.outDir}: cannot write the run's files: ${(e as Error).message}`;
      const ended = unreportedEnd(request.startAt, 0, { status: 'failed', error: { code: 'INVALID_ARGUMENT', message, details: { field: 'outDir' } } });
      // On the next turn: enqueue() has not returned yet, so nobody listens to the handle's events.
      setImmediate(() => {
        events.emit('event', ended);
        onEnded(ended);
      });
      return;
    }
    const child = fork(ENTRY, [], {
      // tsx resolved from here, not from the working directory: `odelab` runs from any folder.
      execArgv: ['--import', TSX_LOADER],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    handle.process = child;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    let ended: EndedEvent | undefined;
    let stood = request.startAt ?? { epoch: 0, step: 0 };
    const started = Date.now();
    const publish = (e: RunEvent) => {
      folder?.writeEvent(e);
      events.emit('event', e);
    };
    child.on('message', (msg: FromTrainer) => {
      if (msg.type === 'progress' || msg.type === 'testing') {
        events.emit(msg.type, msg.progress);
        return;
      }
      if (msg.type === 'checkpoint-data') {
        const { type: _type, ...data } = msg;
        folder?.writeCheckpoint(data);
        events.emit('checkpoint-data', data);
        return;
      }
      const e = msg.event;
      if (e.event === 'started') stood = { epoch: e.startEpoch, step: e.startStep };
      if (e.event === 'epoch') stood = { ...stood, epoch: e.epoch };
      if (e.event === 'batch') stood = { ...stood, step: e.step };
      if (e.event === 'ended') ended = e;
      publish(e.event === 'checkpoint' && folder?.lastCheckpointPath ? { ...e, path: folder.lastCheckpointPath } : e);
    });
    let settled = false;
    const settle = (e: EndedEvent) => {
      if (settled) return;
      settled = true;
      folder?.close();
      onEnded(e);
    };
    // The process could not be started (fork failing: no memory, too many processes): no 'exit' need follow, and
    // without a listener the error would end this process. Other errors (a message that could not be sent) are
    // followed by the exit, which ends the run.
    child.on('error', (e) => {
      if (child.pid !== undefined || ended) return;
      const error: RunErrorInfo = { code: 'CRASHED', message: `the training process could not be started: ${e.message}`, details: {} };
      ended = unreportedEnd(stood, 0, { status: 'failed', error });
      publish(ended);
      settle(ended);
    });
    child.on('exit', (code, signal) => {
      if (!ended) {
        // The process died before it could say 'ended': where the run stood, and why.
        const crashed: RunErrorInfo = {
          code: 'CRASHED',
          message: `the training process ${signal ? `was killed by ${signal}` : `exited with code ${code}`} before the run ended`,
          details: { exitCode: code, signal, stderr: stderr.trim().split('\n').slice(-5).join('\n') },
        };
        const userStop = stoppedByUser({ killed: user.killed(), cancelled: user.cancelled() }, { code, signal });
        ended = unreportedEnd(stood, (Date.now() - started) / 1000, userStop ? { status: 'cancelled' } : { status: 'failed', error: crashed });
        publish(ended);
      }
      settle(ended);
    });
    const { outDir: _outDir, startAt: _startAt, ...start } = request;
    child.send({ type: 'start', ...start } satisfies ToTrainer);
  }
}
