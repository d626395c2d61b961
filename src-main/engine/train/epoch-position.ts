/**
 * Where training stands inside an epoch, and what that epoch has tallied so far: what a resume point (a checkpoint
 * taken mid-epoch) carries so the resumed epoch's event is the one an uninterrupted run would have reported.
 *
 * No tfjs here: checkpoint.ts (read by the run store) validates positions with positionProblem.
 */
import type { StepResult } from './steps'; // a type only: erased, so no tfjs is loaded

/** The epoch in progress, as a checkpoint records it (JSON: every number a float64, so sums round-trip exactly). */
export interface EpochPosition {
  /** Batches of the epoch in progress (the checkpoint's epoch + 1) already trained, 1 to batchesPerEpoch. */
  batches: number;
  /** Σ loss·size over those batches. */
  lossSum: number;
  correct: number;
  seen: number;
  stepsAccepted: number;
  stepsRejected: number;
  peakTensorBytes: number;
  /** Per batch, in order. */
  nfeForward: number[];
  nfeBackward: number[];
  /** The epoch's seconds so far (its batches, their in-epoch evaluations, and a scoring cut short). */
  seconds: number;
  /**
   * Set when the point was saved by a cancel during the in-epoch evaluation (evalEvery) after its last batch: the
   * resumed run does that evaluation first, or it would be missing from the run's series. Absent: none pending.
   */
  evaluationPending?: boolean;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isCounts = (v: unknown, n: number): boolean => Array.isArray(v) && v.length === n && v.every(isCount);

/** What is wrong with a position read from a file, or undefined: it must not crash the trainer or skew its sums. */
export function positionProblem(p: unknown): string | undefined {
  if (typeof p !== 'object' || p === null) return 'expected an object';
  const r = p as Record<string, unknown>;
  if (!isCount(r.batches) || r.batches < 1) return `batches: expected a positive integer, found ${JSON.stringify(r.batches)}`;
  for (const key of ['correct', 'seen', 'stepsAccepted', 'stepsRejected', 'peakTensorBytes'] as const) {
    if (!isCount(r[key])) return `${key}: expected a count, found ${JSON.stringify(r[key])}`;
  }
  for (const key of ['lossSum', 'seconds'] as const) {
    if (typeof r[key] !== 'number' || !Number.isFinite(r[key])) return `${key}: expected a finite number, found ${JSON.stringify(r[key])}`;
  }
  for (const key of ['nfeForward', 'nfeBackward'] as const) {
    if (!isCounts(r[key], r.batches)) return `${key}: expected ${r.batches} counts, one per batch done`;
  }
  if (r.evaluationPending !== undefined && r.evaluationPending !== true) {
    return `evaluationPending: expected true or absent, found ${JSON.stringify(r.evaluationPending)}`;
  }
  return undefined;
}

/** One trained batch, as the tally takes it: the step's counts, its loss and its size. */
export type BatchTally = Pick<StepResult, 'correct' | 'nfeForward' | 'nfeBackward' | 'stepsAccepted' | 'stepsRejected' | 'tensorBytes'> & {
  loss: number;
  size: number;
};

/** An epoch's running totals, started empty or from a resume point's position. */
export class EpochTally {
  private lossSum = 0;
  private correct = 0;
  private seen = 0;
  private accepted = 0;
  private rejected = 0;
  private peakBytes = 0;
  private readonly nfeF: number[] = [];
  private readonly nfeB: number[] = [];
  /** performance.now() at the epoch's start, moved back by the seconds a resumed epoch had already taken. */
  private readonly start: number;

  constructor(from?: EpochPosition) {
    this.start = performance.now() - (from?.seconds ?? 0) * 1000;
    if (!from) return;
    this.lossSum = from.lossSum;
    this.correct = from.correct;
    this.seen = from.seen;
    this.accepted = from.stepsAccepted;
    this.rejected = from.stepsRejected;
    this.peakBytes = from.peakTensorBytes;
    this.nfeF.push(...from.nfeForward);
    this.nfeB.push(...from.nfeBackward);
  }

  /** Batches tallied (those of a resume point included). */
  get batches(): number {
    return this.nfeF.length;
  }

  add(b: BatchTally): void {
    this.peakBytes = Math.max(this.peakBytes, b.tensorBytes);
    this.nfeF.push(b.nfeForward);
    this.nfeB.push(b.nfeBackward);
    this.accepted += b.stepsAccepted;
    this.rejected += b.stepsRejected;
    this.lossSum += b.loss * b.size;
    this.correct += b.correct;
    this.seen += b.size;
  }

  seconds(): number {
    return (performance.now() - this.start) / 1000;
  }

  position(): EpochPosition {
    return {
      batches: this.batches,
      lossSum: this.lossSum,
      correct: this.correct,
      seen: this.seen,
      stepsAccepted: this.accepted,
      stepsRejected: this.rejected,
      peakTensorBytes: this.peakBytes,
      nfeForward: [...this.nfeF],
      nfeBackward: [...this.nfeB],
      seconds: this.seconds(),
    };
  }

  /** The training half of the epoch event. */
  summary() {
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
    return {
      loss: this.lossSum / this.seen,
      accuracy: this.correct / this.seen,
      nfeForwardMean: mean(this.nfeF),
      nfeForwardMax: Math.max(0, ...this.nfeF),
      nfeBackwardMean: mean(this.nfeB),
      nfeBackwardMax: Math.max(0, ...this.nfeB),
      stepsAccepted: this.accepted,
      stepsRejected: this.rejected,
      seconds: this.seconds(),
      peakTensorBytes: this.peakBytes,
    };
  }
}
