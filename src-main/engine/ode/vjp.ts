/**
 * Vector–Jacobian products that are safe to take inside another gradient's backward pass.
 *
 * The adjoint computes VJPs while tfjs is backpropagating the outer loss. tfjs keeps one active tape: a nested
 * `engine.gradients` at gradient depth 0 replaces it with a fresh one and sets it to null when done, so the
 * outer pass then fails to release its saved tensors ("Cannot read properties of null"). We keep the outer
 * tape aside for the duration of the nested call and put it back.
 */
import { tf, type Tensor } from '../tf';

interface EngineTapeState {
  activeTape: unknown;
}

export function vjp(f: () => Tensor, xs: Tensor[], dy: Tensor): { value: Tensor; grads: (Tensor | null)[] } {
  const state = (tf.engine() as unknown as { state: EngineTapeState }).state;
  const outerTape = state.activeTape;
  try {
    return tf.engine().gradients(f, xs, dy, true);
  } finally {
    state.activeTape = outerTape;
  }
}
