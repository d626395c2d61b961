/**
 * The most tensor memory a training step holds at once, which tells what a batch needs: a direct gradient keeps
 * every solver step's tensors for the backward pass, whose own gradients then pile on top; the adjoint does neither.
 * tfjs tracks a peak only while profiling (tf.profile), which also times every kernel. We count as it does, without
 * the timing: the engine's byte count is checked each time it registers a tensor (trackTensor, where the count only
 * rises). That method is tfjs-core's internal: test/engine/memory-peak.test.ts checks the figure against tf.profile's,
 * so a tfjs upgrade that changes it fails there rather than reporting nonsense.
 * One window at a time per thread (a training step; each gradient worker thread has its own engine and module state).
 */
import { tf } from './tf';

interface EngineInternals {
  state: { numBytes: number };
  trackTensor: (...args: unknown[]) => void;
}

let peak = 0;
let watched: EngineInternals | undefined;

/** Wraps the engine's trackTensor once, so every tensor it registers updates the peak. */
function watch(): void {
  const engine = tf.engine() as unknown as EngineInternals;
  if (watched === engine) return;
  const track = engine.trackTensor.bind(engine);
  engine.trackTensor = (...args: unknown[]) => {
    track(...args);
    if (engine.state.numBytes > peak) peak = engine.state.numBytes;
  };
  watched = engine;
}

/** Starts a window at the bytes alive now. */
export function openPeakWindow(): void {
  watch();
  peak = tf.memory().numBytes;
}

/** The most bytes alive at once since openPeakWindow. */
export function peakSinceOpened(): number {
  return Math.max(peak, tf.memory().numBytes);
}
