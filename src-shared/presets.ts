/** Run presets named after the write-ups: complete RunConfig inputs that CLI flags can then override. */
import type { RunConfigInput } from './run-config';

/**
 * Training images in the shapes presets: twice the write-up's largest set (2700). At 2700 (23 Adam steps per
 * epoch) five epochs reach 0.976–0.997 over seeds, still climbing; at 5400 explicit Euler reaches 0.999–1.0
 * (README, results). The write-up's shrinking sets stay one flag away: `--train-size 2700 | 1350 | 500` trains
 * on a stratified subset of these images.
 */
const SHAPES_TRAIN_COUNT = 5400;

const shapes = (method: 'euler' | 'implicit-euler' | 'implicit-midpoint', name: string): RunConfigInput => ({
  name,
  model: { name: 'shapes-odenet', solver: { method, stepSize: 0.05 } },
  dataset: { kind: 'shapes', mode: 'compound', trainCount: SHAPES_TRAIN_COUNT, testCount: 6000 },
  optimizer: { kind: 'adam', lr: 3e-3 },
  batchSize: 120,
  epochs: 5,
});

export const PRESETS: Record<string, { description: string; config: RunConfigInput }> = {
  'fashion-convnode': {
    description:
      'Fashion-MNIST write-up: ConvNODE, tsit5 rtol=atol=1e-3, AdamW 1e-2, batch 128, 1 epoch; Flux.jl (Glorot) init.',
    config: {
      name: 'fashion-convnode',
      // The write-up is Julia (Flux, DiffEqFlux): Flux's Glorot init, with which the forward NFE can grow during
      // training as the write-up saw (in about half the runs here: 14 → mean 18–22, up to 26–32 per batch); with
      // PyTorch's init it stays at 14.
      model: { name: 'convnode-fashion', init: 'glorot', solver: { method: 'tsit5', rtol: 1e-3, atol: 1e-3, gradient: 'direct' } },
      dataset: { kind: 'fashion-mnist' },
      optimizer: { kind: 'adamw', lr: 1e-2, weightDecay: 1e-2 },
      batchSize: 128,
      epochs: 1,
    },
  },
  'mnist-odenet': {
    description: 'MNIST write-up: ODENet, dopri5 rtol=atol=0.1, adjoint, SGD 1e-3 momentum 0.9, batch 16, 10 epochs.',
    config: {
      name: 'mnist-odenet',
      model: { name: 'odenet-mnist', solver: { method: 'dopri5', rtol: 0.1, atol: 0.1, gradient: 'adjoint' } },
      dataset: { kind: 'mnist' },
      normalisation: 'symmetric',
      optimizer: { kind: 'sgd', lr: 1e-3, momentum: 0.9 },
      batchSize: 16,
      epochs: 10,
    },
  },
  'paper-odenet': {
    description:
      "Neural ODE paper, Table 1 (torchdiffeq's odenet_mnist.py): ODE-Net on MNIST, dopri5 rtol=atol=1e-3, adjoint, " +
      'SGD 0.1 momentum 0.9, batch 128, 160 epochs, lr ×0.1 after epochs 60, 100, 140, random 28×28 crops of images ' +
      'padded by 4. The baselines: --model resnet | rknet | mlp.',
    config: {
      name: 'paper-odenet',
      model: { name: 'odenet-paper', solver: { method: 'dopri5', rtol: 1e-3, atol: 1e-3, gradient: 'adjoint' } },
      dataset: { kind: 'mnist' },
      // ToTensor only: pixels in [0, 1], the crops' border 0.
      normalisation: 'unit',
      augment: 'crop',
      augmentPadding: 4,
      optimizer: { kind: 'sgd', lr: 0.1, momentum: 0.9, schedule: 'step', milestones: [60, 100, 140], gamma: 0.1 },
      batchSize: 128,
      epochs: 160,
    },
  },
  'shapes-euler': {
    description: 'Shapes write-up, compound (7 classes): explicit Euler, step 0.05, Adam, batch 120, 5 epochs.',
    config: shapes('euler', 'shapes-euler'),
  },
  'shapes-implicit-euler': {
    description: 'Shapes write-up, compound (7 classes): implicit Euler, step 0.05, Adam, batch 120, 5 epochs.',
    config: shapes('implicit-euler', 'shapes-implicit-euler'),
  },
  'shapes-crank-nicolson': {
    description:
      'Shapes write-up, compound (7 classes): the write-up\'s "Crank–Nicolson", which evaluates f at the step\'s ' +
      'midpoint, i.e. the implicit midpoint rule; step 0.05, Adam, batch 120, 5 epochs.',
    config: shapes('implicit-midpoint', 'shapes-crank-nicolson'),
  },
};
