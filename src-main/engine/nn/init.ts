/**
 * Seeded parameter initialisation, in the scheme of the framework a write-up used: PyTorch's defaults
 * (Kaiming-uniform with a = √5, i.e. U(±1/√fanIn) for weights and biases of conv and linear layers) or Flux.jl's
 * (Glorot-uniform weights, zero biases), so models start where the write-ups' models started.
 */
import type { ModelSpec } from '../../../src-shared/run-config';
import { tf, variableFrom } from '../tf';

export type InitScheme = ModelSpec['init'];

/** A deterministic stream of seeds: every parameter of a model gets the next one. */
export class SeedSequence {
  private next: number;
  constructor(
    seed: number,
    /** The initialisation scheme every parameter drawn with these seeds follows. */
    readonly scheme: InitScheme = 'pytorch',
  ) {
    this.next = seed >>> 0;
  }
  take(): number {
    // A 32-bit LCG step (Numerical Recipes constants) spreads consecutive seeds apart.
    this.next = (Math.imul(this.next, 1664525) + 1013904223) >>> 0;
    return this.next;
  }
}

function uniform(shape: number[], bound: number, seeds: SeedSequence, name: string): tf.Variable {
  return variableFrom(tf.randomUniform(shape, -bound, bound, 'float32', seeds.take()), true, name);
}

/** A conv or dense layer's weights with `fanIn` inputs and `fanOut` outputs per unit. */
export function initWeights(shape: number[], fanIn: number, fanOut: number, seeds: SeedSequence, name: string): tf.Variable {
  const bound = seeds.scheme === 'glorot' ? Math.sqrt(6 / (fanIn + fanOut)) : 1 / Math.sqrt(fanIn);
  return uniform(shape, bound, seeds, name);
}

/** The matching bias. Zero under Glorot, but a seed is drawn either way so later layers' seeds do not shift. */
export function initBias(shape: number[], fanIn: number, seeds: SeedSequence, name: string): tf.Variable {
  if (seeds.scheme === 'glorot') {
    seeds.take();
    return variableFrom(tf.zeros(shape), true, name);
  }
  return uniform(shape, 1 / Math.sqrt(fanIn), seeds, name);
}
