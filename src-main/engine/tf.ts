/**
 * The one tfjs namespace of the engine. Everything in the lab that needs tfjs imports it from here (or from
 * the engine's index), so a process never loads two copies with two kernel registries.
 * `@tensorflow/tfjs` rather than bare tfjs-core: it registers every op's gradient, which training needs.
 */
import * as tf from '@tensorflow/tfjs';

export { tf };
export type Tensor = tf.Tensor;
export type Variable = tf.Variable;
