/**
 * Seeded parameter initialisation. PyTorch's defaults (Kaiming-uniform with a = √5, i.e. U(±1/√fanIn) for
 * weights and biases of conv and linear layers), so models start where the write-ups' models started.
 */
import { tf } from '../tf';

/** A deterministic stream of seeds: every parameter of a model gets the next one. */
export class SeedSequence {
  private next: number;
  constructor(seed: number) {
    this.next = seed >>> 0;
  }
  take(): number {
    // A 32-bit LCG step (Numerical Recipes constants) spreads consecutive seeds apart.
    this.next = (Math.imul(this.next, 1664525) + 1013904223) >>> 0;
    return this.next;
  }
}

export function uniformFanIn(shape: number[], fanIn: number, seeds: SeedSequence, name: string): tf.Variable {
  const bound = 1 / Math.sqrt(fanIn);
  return tf.variable(tf.randomUniform(shape, -bound, bound, 'float32', seeds.take()), true, name);
}
