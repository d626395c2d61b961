/**
 * The one tfjs namespace of the engine. Everything in the lab that needs tfjs imports it from here (or from
 * the engine's index), so a process never loads two copies with two kernel registries.
 * `@tensorflow/tfjs` rather than bare tfjs-core: it registers every op's gradient, which training needs.
 */
import * as tf from '@tensorflow/tfjs';

export { tf };
export type Tensor = tf.Tensor;
export type Variable = tf.Variable;

/**
 * A variable initialised from `initial`, which it takes over: tf.variable shares the initial tensor's data and
 * leaves that tensor alive (one leaked tensor per variable, holding the data after the variable is disposed).
 */
export function variableFrom(initial: tf.Tensor, trainable: boolean, name?: string): tf.Variable {
  const v = tf.variable(initial, trainable, name);
  initial.dispose();
  return v;
}
