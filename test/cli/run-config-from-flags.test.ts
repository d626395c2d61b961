/** How presets, --config files, checkpoint configs and flags combine into a run config (no process needed). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runConfigFromFlags } from '../../src-main/cli/run-config-from-flags';
import { epochList } from '../../src-main/cli/option-parsers';
import { NOT_SWEPT } from '../../src-main/cli/sweep';
import { labErrorOf } from '../lab-error';
import { RunConfig } from '../../src-shared/run-config';
import { SolverSpec } from '../../src-shared/config';
import { checkResumable, type Checkpoint } from '../../src-main/engine/train/checkpoint';

/** Runs `body` with a function that writes a --config file (text as given, or an object as JSON) and returns its path. */
function withConfigFiles(body: (write: (content: string | object | Uint8Array) => string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'odelab-config-'));
  let n = 0;
  try {
    body((content) => {
      const file = join(dir, `config-${n++}.json`);
      writeFileSync(file, typeof content === 'string' || content instanceof Uint8Array ? content : JSON.stringify(content));
      return file;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('runConfigFromFlags', () => {
  it('keeps the inherited solver settings that apply to a new --method, and drops those that do not', () => {
    expect(runConfigFromFlags({ preset: 'shapes-euler', method: 'euler' }).model.solver).toMatchObject({ method: 'euler', stepSize: 0.05 });
    expect(runConfigFromFlags({ preset: 'shapes-euler', method: 'rk4' }).model.solver).toMatchObject({ method: 'rk4', stepSize: 0.05 });
    const adaptive = runConfigFromFlags({ preset: 'shapes-euler', method: 'dopri5' }).model.solver;
    expect(adaptive).toMatchObject({ method: 'dopri5' });
    expect(adaptive.stepSize).toBeUndefined();
    expect(runConfigFromFlags({ preset: 'fashion-convnode', method: 'dopri5' }).model.solver).toMatchObject({ rtol: 1e-3, atol: 1e-3 });
    const fixed = runConfigFromFlags({ preset: 'fashion-convnode', method: 'rk4', stepSize: 0.25 }).model.solver;
    expect(fixed).toMatchObject({ method: 'rk4', stepSize: 0.25 });
    expect(fixed.rtol).toBeUndefined();
    // The adjoint gradient of mnist-odenet is not the method's business: it stays.
    expect(runConfigFromFlags({ preset: 'mnist-odenet', method: 'rk4' }).model.solver.gradient).toBe('adjoint');
  });

  it("drops a preset's dataset settings when --dataset names another dataset", () => {
    expect(runConfigFromFlags({ preset: 'shapes-euler', dataset: 'mnist' }).dataset).toEqual({ kind: 'mnist', subsetSeed: 0 });
    expect(runConfigFromFlags({ preset: 'shapes-euler', dataset: 'shapes' }).dataset).toMatchObject({ kind: 'shapes', mode: 'compound' });
  });

  it("starts from a base config (a checkpoint's), with the flags over it", () => {
    const base = runConfigFromFlags({ preset: 'shapes-euler', seed: 9, trainSize: 300 });
    const next = runConfigFromFlags({ epochs: 8 }, base);
    expect(next).toEqual(RunConfig.parse({ ...base, epochs: 8 }));
  });

  it('refuses --max-steps below what a fixed step size needs over the ODE block, naming the field', () => {
    const e = labErrorOf(() => runConfigFromFlags({ preset: 'shapes-euler', maxSteps: 10 }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toContain('model.solver.maxSteps: euler with stepSize 0.05 needs 20 steps over [0, 1]; maxSteps is 10');
    expect(runConfigFromFlags({ preset: 'shapes-euler', maxSteps: 20 }).model.solver.maxSteps).toBe(20);
    expect(runConfigFromFlags({ preset: 'shapes-euler', maxSteps: 10, stepSize: 0.1 }).model.solver.maxSteps).toBe(10);
  });

  it("drops an inherited momentum when --optimizer names one without it; refuses --momentum for it, naming the flag", () => {
    expect(runConfigFromFlags({ preset: 'mnist-odenet' }).optimizer).toMatchObject({ kind: 'sgd', momentum: 0.9 });
    const adam = runConfigFromFlags({ preset: 'mnist-odenet', optimizer: 'adam' }).optimizer;
    expect(adam).toMatchObject({ kind: 'adam', lr: 1e-3 });
    expect(adam.momentum ?? 0).toBe(0);
    expect(runConfigFromFlags({ preset: 'mnist-odenet', optimizer: 'sgd' }).optimizer).toMatchObject({ kind: 'sgd', momentum: 0.9 });
    const e = labErrorOf(() => runConfigFromFlags({ preset: 'shapes-euler', momentum: 0.9 }));
    expect(e.message).toBe("INVALID_ARGUMENT: --momentum: only SGD uses momentum; this run's optimizer is adam");
    expect(labErrorOf(() => runConfigFromFlags({ preset: 'mnist-odenet', optimizer: 'adamw', momentum: 0.5 })).message).toMatch(/^INVALID_ARGUMENT: --momentum: .* adamw$/);
    expect(runConfigFromFlags({ preset: 'shapes-euler', optimizer: 'sgd', momentum: 0.5 }).optimizer).toMatchObject({ kind: 'sgd', momentum: 0.5 });
  });

  it("paper-odenet is odenet_mnist.py's recipe; the baselines take it with --model", () => {
    const paper = runConfigFromFlags({ preset: 'paper-odenet' });
    expect(paper).toMatchObject({
      name: 'paper-odenet',
      model: { name: 'odenet-paper', init: 'pytorch', solver: { method: 'dopri5', rtol: 1e-3, atol: 1e-3, gradient: 'adjoint' } },
      dataset: { kind: 'mnist' },
      normalisation: 'unit',
      augment: 'crop',
      augmentPadding: 4,
      optimizer: { kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0, schedule: 'step', milestones: [60, 100, 140], gamma: 0.1 },
      batchSize: 128,
      epochs: 160,
      seed: 0,
      emaDecay: 0,
    });
    // rknet: RK4 at step 1/blocks with direct backprop (torchdiffeq's --adjoint False is --gradient direct instead).
    expect(runConfigFromFlags({ preset: 'paper-odenet', model: 'rknet' }).model.solver).toMatchObject({ method: 'rk4', stepSize: 1 / 6, gradient: 'direct' });
    const resnet = runConfigFromFlags({ preset: 'paper-odenet', model: 'resnet', name: 'paper-resnet' });
    expect(resnet).toMatchObject({ name: 'paper-resnet', augment: 'crop', optimizer: { schedule: 'step', milestones: [60, 100, 140] } });
    expect(runConfigFromFlags({ preset: 'paper-odenet', gradient: 'direct' }).model.solver.gradient).toBe('direct');
  });

  it('sets a step schedule and crop augmentation from flags; drops what another schedule or no augmentation would ignore', () => {
    const step = runConfigFromFlags({ preset: 'mnist-odenet', lrSchedule: 'step', lrMilestones: [3, 7], lrGamma: 0.5, augment: 'crop', augmentPadding: 2 });
    expect(step.optimizer).toMatchObject({ schedule: 'step', milestones: [3, 7], gamma: 0.5 });
    expect(step).toMatchObject({ augment: 'crop', augmentPadding: 2 });
    // Defaults: gamma 0.1, padding 4.
    expect(runConfigFromFlags({ preset: 'shapes-euler', lrSchedule: 'step', lrMilestones: [2], augment: 'crop' })).toMatchObject({
      optimizer: { gamma: 0.1 },
      augmentPadding: 4,
    });
    // The preset's milestones and gamma mean nothing to cosine, its padding nothing without crops: dropped, as
    // --optimizer adam drops a preset's momentum.
    const cosine = runConfigFromFlags({ preset: 'paper-odenet', lrSchedule: 'cosine', augment: 'none' });
    expect(cosine.optimizer).toMatchObject({ schedule: 'cosine', milestones: [], gamma: 0.1 });
    expect(cosine).toMatchObject({ augment: 'none', augmentPadding: 4 });
    expect(runConfigFromFlags({ preset: 'paper-odenet', lrMilestones: [30] }).optimizer.milestones).toEqual([30]);
    // Never given plainly and swept (its one value has commas of its own).
    expect(NOT_SWEPT.has('lr-milestones')).toBe(true);
  });

  it('refuses schedule and augmentation flags that mean nothing with the rest, naming the flag, word for word', () => {
    const refusal = (flags: Parameters<typeof runConfigFromFlags>[0]) => labErrorOf(() => runConfigFromFlags(flags));
    expect(refusal({ preset: 'shapes-euler', lrMilestones: [60, 100] }).message).toBe(
      "INVALID_ARGUMENT: --lr-milestones: only --lr-schedule step uses it; this run's schedule is constant",
    );
    expect(refusal({ preset: 'paper-odenet', lrSchedule: 'cosine', lrGamma: 0.5 }).message).toBe(
      "INVALID_ARGUMENT: --lr-gamma: only --lr-schedule step uses it; this run's schedule is cosine",
    );
    const noMilestones = refusal({ preset: 'shapes-euler', lrSchedule: 'step' });
    expect(noMilestones.message).toBe(
      'INVALID_ARGUMENT: --lr-schedule: step needs --lr-milestones <epochs>, the epochs after which the learning rate is multiplied by --lr-gamma (default 0.1), e.g. --lr-milestones 60,100,140',
    );
    expect(noMilestones.details).toMatchObject({ field: 'lr-schedule' });
    expect(refusal({ preset: 'shapes-euler', augmentPadding: 2 }).message).toBe("INVALID_ARGUMENT: --augment-padding: only --augment crop pads; this run's augment is none");
    expect(refusal({ preset: 'paper-odenet', augment: 'none', augmentPadding: 2 }).message).toBe(
      "INVALID_ARGUMENT: --augment-padding: only --augment crop pads; this run's augment is none",
    );
    expect(refusal({ preset: 'paper-odenet', lrGamma: 0 }).message).toBe('INVALID_ARGUMENT: invalid run configuration:\noptimizer.gamma: Too small: expected number to be >0');
    // The milestones' parser: commander reports its refusal naming the flag (exit 2).
    expect(() => epochList('100,60')).toThrow("expected increasing epochs, got '100,60': 60 follows 100");
    expect(() => epochList('60,60')).toThrow("expected increasing epochs, got '60,60': 60 follows 60");
    expect(() => epochList('60,1.5')).toThrow("expected comma-separated epochs, positive integers (e.g. 60,100,140), got '60,1.5'");
    expect(() => epochList('0')).toThrow("expected comma-separated epochs, positive integers (e.g. 60,100,140), got '0'");
    expect(epochList('60, 100,140')).toEqual([60, 100, 140]);
  });

  it('refuses schedule and augmentation settings of a --config file that mean nothing, naming the field, word for word', () => {
    withConfigFiles((write) => {
      const refusal = (config: object, flags: Parameters<typeof runConfigFromFlags>[0] = {}) =>
        labErrorOf(() => runConfigFromFlags({ preset: 'shapes-euler', ...flags, config: write(config) })).message;
      const header = 'INVALID_ARGUMENT: invalid run configuration:\n';
      expect(refusal({ optimizer: { milestones: [60] } })).toBe(`${header}optimizer.milestones: only the step schedule has milestones; this schedule is constant: remove milestones [60]`);
      expect(refusal({ optimizer: { schedule: 'cosine', gamma: 0.5 } })).toBe(`${header}optimizer.gamma: only the step schedule uses gamma; this schedule is cosine: remove gamma 0.5`);
      expect(refusal({ optimizer: { schedule: 'step' } })).toBe(
        `${header}optimizer.milestones: the step schedule needs milestones: the epochs after which the learning rate is multiplied by gamma (e.g. [60, 100, 140])`,
      );
      expect(refusal({ optimizer: { schedule: 'step', milestones: [60, 140, 100] } })).toBe(`${header}optimizer.milestones: milestones must increase: 100 follows 140`);
      expect(refusal({ optimizer: { schedule: 'step', milestones: [60, 60] } })).toBe(`${header}optimizer.milestones: milestones must increase: 60 follows 60`);
      expect(refusal({ augmentPadding: 2 })).toBe(`${header}augmentPadding: only augment "crop" pads; this run's augment is none: remove augmentPadding 2`);
      // A preset's padding, inherited, is not the file's: --augment none drops it with the crops.
      expect(runConfigFromFlags({ preset: 'paper-odenet', augment: 'none', config: write({}) }).augment).toBe('none');
    });
  });

  it('refuses a momentum for adam from a --config file, as it refuses --momentum', () => {
    const dir = mkdtempSync(join(tmpdir(), 'odelab-config-'));
    try {
      const file = join(dir, 'adam.json');
      writeFileSync(file, JSON.stringify({ optimizer: { kind: 'adam', momentum: 0.9 } }));
      const e = labErrorOf(() => runConfigFromFlags({ preset: 'shapes-euler', config: file }));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toMatch(/optimizer\.momentum: only SGD uses momentum; adam /);
      writeFileSync(file, JSON.stringify({ optimizer: { kind: 'sgd', momentum: 0.9 } }));
      expect(runConfigFromFlags({ preset: 'shapes-euler', config: file }).optimizer).toMatchObject({ kind: 'sgd', momentum: 0.9 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a --config value that is not an object where the config has one, naming the field, before any merging', () => {
    withConfigFiles((write) => {
      const refused = (flags: Parameters<typeof runConfigFromFlags>[0]) => {
        const e = labErrorOf(() => runConfigFromFlags(flags));
        expect(e.code).toBe('INVALID_ARGUMENT');
        return e;
      };
      // Was: Adam 1e-3 and dopri5 defaults, trained without a word.
      const both = refused({ preset: 'fashion-convnode', config: write({ model: { solver: 'euler' }, optimizer: 'sgd' }), trainSize: 200 });
      expect(both.message).toBe('INVALID_ARGUMENT: invalid run configuration:\nmodel.solver: expected an object, found "euler"\noptimizer: expected an object, found "sgd"');
      expect(both.details).toMatchObject({ field: 'model.solver' });
      expect(refused({ config: write({ optimizer: 'sgd' }) }).message).toMatch(/\noptimizer: expected an object, found "sgd"$/);
      // Was a TypeError (a property set on a string), characters spread into settings, or model.name's message.
      expect(refused({ preset: 'fashion-convnode', config: write({ model: 'odenet-mnist' }), method: 'dopri5' }).message).toMatch(/\nmodel: expected an object, found "odenet-mnist"$/);
      expect(refused({ preset: 'fashion-convnode', config: write({ model: { solver: 'euler' } }), method: 'rk4' }).message).toMatch(/\nmodel\.solver: expected an object, found "euler"$/);
      expect(refused({ config: write({ model: 'odenet-mnist' }) }).message).toMatch(/\nmodel: expected an object, found "odenet-mnist"$/);
      expect(refused({ preset: 'shapes-euler', config: write({ dataset: ['shapes'] }) }).message).toMatch(/\ndataset: expected an object, found an array$/);
      expect(refused({ preset: 'shapes-euler', config: write({ optimizer: null }) }).message).toMatch(/\noptimizer: expected an object, found null$/);
      expect(refused({ preset: 'shapes-euler', config: write({ model: { solver: 4 } }) }).message).toMatch(/\nmodel\.solver: expected an object, found 4$/);
      // Objects merge as before; values that are not objects where the config has none are the schema's to judge.
      expect(runConfigFromFlags({ preset: 'shapes-euler', config: write({ model: { solver: { maxSteps: 30 } }, optimizer: { lr: 0.01 } }) })).toMatchObject({
        model: { name: 'shapes-odenet', solver: { method: 'euler', stepSize: 0.05, maxSteps: 30 } },
        optimizer: { kind: 'adam', lr: 0.01 },
      });
      expect(refused({ preset: 'shapes-euler', config: write({ dataset: { sizeRange: 'big' } }) }).message).toMatch(/\ndataset\.sizeRange: /);
    });
  });

  it('refuses a momentum the --config file sets under --optimizer adam, and drops only an inherited one', () => {
    withConfigFiles((write) => {
      const e = labErrorOf(() => runConfigFromFlags({ preset: 'mnist-odenet', config: write({ optimizer: { momentum: 0.9 } }), optimizer: 'adam' }));
      expect(e.message).toMatch(/\noptimizer\.momentum: only SGD uses momentum; adam .* remove momentum 0\.9$/);
      expect(labErrorOf(() => runConfigFromFlags({ config: write({ optimizer: { kind: 'sgd', momentum: 0.5 } }), optimizer: 'adamw' })).message).toMatch(
        /\noptimizer\.momentum: only SGD uses momentum; adamw /,
      );
      // The file's other optimizer settings go with --optimizer adam; a kind set in the file drops the preset's momentum as the flag does.
      expect(runConfigFromFlags({ preset: 'mnist-odenet', config: write({ optimizer: { lr: 0.01 } }), optimizer: 'adam' }).optimizer).toMatchObject({ kind: 'adam', lr: 0.01, momentum: 0 });
      expect(runConfigFromFlags({ preset: 'mnist-odenet', config: write({ optimizer: { kind: 'adam' } }) }).optimizer).toMatchObject({ kind: 'adam', momentum: 0 });
      expect(runConfigFromFlags({ preset: 'mnist-odenet', config: write({ optimizer: { momentum: 0.5 } }), optimizer: 'sgd' }).optimizer).toMatchObject({ kind: 'sgd', momentum: 0.5 });
    });
  });

  it("keeps the solver settings the --config file sets under --method for the schema to judge, dropping only inherited ones", () => {
    withConfigFiles((write) => {
      // Was: the file's step size silently dropped.
      const e = labErrorOf(() => runConfigFromFlags({ preset: 'fashion-convnode', config: write({ model: { solver: { stepSize: 0.2 } } }), method: 'dopri5' }));
      expect(e.message).toMatch(/\nmodel\.solver\.stepSize: 'dopri5' chooses its own step size/);
      expect(runConfigFromFlags({ preset: 'fashion-convnode', config: write({ model: { solver: { stepSize: 0.2 } } }), method: 'rk4' }).model.solver).toMatchObject({
        method: 'rk4',
        stepSize: 0.2,
      });
      // A method set in the file drops the inherited settings that do not apply to it, as --method does.
      const solver = runConfigFromFlags({ preset: 'shapes-euler', config: write({ model: { solver: { method: 'dopri5' } } }) }).model.solver;
      expect(solver.method).toBe('dopri5');
      expect(solver.stepSize).toBeUndefined();
      // Likewise the file's dataset settings under another --dataset: refused, not dropped.
      const noise = labErrorOf(() => runConfigFromFlags({ preset: 'shapes-euler', config: write({ dataset: { noise: 0.1 } }), dataset: 'mnist' }));
      expect(noise.message).toMatch(/\ndataset\.noise: not a setting of this lab$/);
    });
  });

  it("refuses '__proto__' and other Object.prototype names in --config as unknown settings", () => {
    withConfigFiles((write) => {
      for (const [text, field] of [
        ['{"__proto__":{"epochs":7}}', '__proto__'],
        ['{"optimizer":{"__proto__":{"lr":1}}}', 'optimizer.__proto__'],
        ['{"constructor":{"name":"x"}}', 'constructor'],
        ['{"toString":1}', 'toString'],
        ['{"model":{"hasOwnProperty":true}}', 'model.hasOwnProperty'],
      ]) {
        const e = labErrorOf(() => runConfigFromFlags({ preset: 'shapes-euler', config: write(text) }));
        expect(e.message, text).toBe(`INVALID_ARGUMENT: invalid run configuration:\n${field}: not a setting of this lab`);
        expect(e.details, text).toMatchObject({ field });
      }
    });
  });

  it('reads a --config file that starts with a UTF-8 byte order mark', () => {
    withConfigFiles((write) => {
      expect(runConfigFromFlags({ preset: 'shapes-euler', config: write('\uFEFF{"epochs": 2}') }).epochs).toBe(2);
      // Only a leading one: JSON has no BOM elsewhere.
      expect(labErrorOf(() => runConfigFromFlags({ config: write('{"epochs": 2}\uFEFF') })).message).toMatch(/^INVALID_ARGUMENT: --config: .* is not a JSON object: /);
    });
  });

  it("reads a --config file Windows PowerShell 5.1 wrote (`>`, Out-File: UTF-16LE with its byte order mark), and UTF-16BE", () => {
    const text = '{"epochs": 3, "name": "ü run"}\r\n';
    const utf16le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const utf16be = Buffer.from(utf16le.subarray(2)).swap16();
    withConfigFiles((write) => {
      for (const bytes of [utf16le, Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be])]) {
        const config = runConfigFromFlags({ preset: 'shapes-euler', config: write(bytes) });
        expect({ epochs: config.epochs, name: config.name }).toEqual({ epochs: 3, name: 'ü run' });
      }
      // Without a byte order mark the bytes are UTF-8: UTF-16 text without one is refused, not guessed at.
      expect(labErrorOf(() => runConfigFromFlags({ config: write(utf16le.subarray(2)) })).message).toMatch(/^INVALID_ARGUMENT: --config: /);
    });
  });

  it('refuses --step-size 0 with the one message, not a step count of Infinity beside it', () => {
    const e = labErrorOf(() => runConfigFromFlags({ preset: 'shapes-euler', stepSize: 0 }));
    expect(e.message).toBe('INVALID_ARGUMENT: invalid run configuration:\nmodel.solver.stepSize: Too small: expected number to be >0');
  });

  describe("the paper's baselines, whose block follows no --method (mlp, resnet, rknet)", () => {
    const refusal = (flags: Parameters<typeof runConfigFromFlags>[0]) => {
      const e = labErrorOf(() => runConfigFromFlags({ dataset: 'mnist', ...flags }));
      return { message: e.message, field: e.details.field };
    };

    it('refuses the solver flags given for them, naming each flag and what the model does instead', () => {
      expect(refusal({ model: 'mlp', method: 'rk4' })).toEqual({
        message: "INVALID_ARGUMENT: --method: model 'mlp' has no ODE block, so no solver; --method does not apply to it",
        field: 'method',
      });
      expect(refusal({ model: 'resnet', rtol: 1e-3 })).toEqual({
        message:
          "INVALID_ARGUMENT: --rtol: model 'resnet' stacks 6 residual blocks and has no ODE solver (--blocks sets their number); " +
          '--rtol does not apply to it',
        field: 'rtol',
      });
      expect(refusal({ model: 'rknet', gradient: 'adjoint' })).toEqual({
        message:
          "INVALID_ARGUMENT: --gradient: model 'rknet' integrates its block on a fixed grid of 6 RK4 steps with direct backprop " +
          '(--blocks sets the steps); --gradient does not apply to it',
        field: 'gradient',
      });
      expect(refusal({ model: 'rknet', method: 'euler', stepSize: 0.5 })).toEqual({
        message:
          "INVALID_ARGUMENT: --method, --step-size: model 'rknet' integrates its block on a fixed grid of 6 RK4 steps with direct " +
          'backprop (--blocks sets the steps); --method, --step-size do not apply to it',
        field: 'method',
      });
      expect(refusal({ model: 'mlp', atol: 1e-4, maxSteps: 5 }).message).toBe(
        "INVALID_ARGUMENT: --atol, --max-steps: model 'mlp' has no ODE block, so no solver; --atol, --max-steps do not apply to it",
      );
      // Before the schema, whose word on the value would miss the point.
      expect(refusal({ model: 'mlp', stepSize: -1 }).message).toBe(
        "INVALID_ARGUMENT: --step-size: model 'mlp' has no ODE block, so no solver; --step-size does not apply to it",
      );
      // The model from a preset or --config counts as the flag's would; the other models take them as before.
      withConfigFiles((write) => {
        expect(refusal({ config: write({ model: { name: 'resnet', blocks: 3 } }), maxSteps: 10 }).message).toBe(
          "INVALID_ARGUMENT: --max-steps: model 'resnet' stacks 3 residual blocks and has no ODE solver (--blocks sets their number); " +
            '--max-steps does not apply to it',
        );
      });
      expect(runConfigFromFlags({ model: 'odenet-paper', dataset: 'mnist', method: 'rk4', gradient: 'adjoint' }).model.solver).toMatchObject({
        method: 'rk4',
        gradient: 'adjoint',
      });
    });

    it('--blocks sets resnet’s residual blocks and rknet’s RK4 steps (its step 1/blocks), and is refused for the other models', () => {
      expect(runConfigFromFlags({ model: 'resnet', dataset: 'mnist', blocks: 3 }).model).toMatchObject({ name: 'resnet', blocks: 3 });
      const rknet = runConfigFromFlags({ model: 'rknet', dataset: 'mnist', blocks: 12 }).model;
      expect(rknet).toMatchObject({ blocks: 12, solver: { method: 'rk4', stepSize: 1 / 12, gradient: 'direct' } });
      // From a checkpoint's config (train --resume): the grid follows the new count.
      expect(runConfigFromFlags({ blocks: 4 }, runConfigFromFlags({ model: 'rknet', dataset: 'mnist' })).model.solver.stepSize).toBe(0.25);
      expect(refusal({ model: 'mlp', blocks: 3 })).toEqual({
        message: "INVALID_ARGUMENT: --blocks: model 'mlp' has no blocks; it has a fixed depth. --blocks is for resnet (residual blocks) and rknet (RK4 steps)",
        field: 'blocks',
      });
      expect(refusal({ preset: 'mnist-odenet', blocks: 3 }).message).toBe(
        "INVALID_ARGUMENT: --blocks: model 'odenet-mnist' has no blocks; its ODE solver sets its depth (--method, --step-size or " +
          '--rtol/--atol). --blocks is for resnet (residual blocks) and rknet (RK4 steps)',
      );
      expect(refusal({ model: 'rknet', blocks: 65 })).toEqual({ message: 'INVALID_ARGUMENT: --blocks: expected at most 64, got 65', field: 'blocks' });
      // A --config file's blocks for a model without them is recorded as the default it is read as: nothing.
      withConfigFiles((write) => {
        expect(runConfigFromFlags({ config: write({ model: { name: 'mlp', blocks: 12 } }), dataset: 'mnist' }).model.blocks).toBe(6);
      });
    });

    it("refuses to start resnet from a checkpoint of another --blocks (its blocks are its weights); rknet's steps can change", () => {
      const resnet = runConfigFromFlags({ model: 'resnet', dataset: 'mnist', epochs: 1 });
      const checkpoint = { config: resnet, epoch: 1 } as Checkpoint; // checkResumable reads only these
      const e = labErrorOf(() => checkResumable(checkpoint, runConfigFromFlags({ blocks: 3, epochs: 2 }, resnet), 'a.ckpt'));
      expect(e.message).toBe("INVALID_ARGUMENT: cannot start from a.ckpt: it holds the weights of 6 residual blocks, this run's resnet has 3 (--blocks)");
      expect(e.details.field).toBe('blocks');
      const rknet = runConfigFromFlags({ model: 'rknet', dataset: 'mnist', epochs: 1 });
      expect(() => checkResumable({ config: rknet, epoch: 1 } as Checkpoint, runConfigFromFlags({ blocks: 3, epochs: 2 }, rknet))).not.toThrow();
    });

    it('refuses a checkpoint with no epoch left to train, saying where it stands: an epoch end, or a resume point inside the next', () => {
      const config = runConfigFromFlags({ preset: 'shapes-euler', epochs: 1 });
      const atEnd = labErrorOf(() => checkResumable({ config, epoch: 1 } as Checkpoint, config, 'a.ckpt'));
      expect(atEnd.message).toBe('INVALID_ARGUMENT: cannot start from a.ckpt: it is at epoch 1 and this run has epochs 1, so nothing is left to train; raise --epochs');
      const inside = { config, epoch: 1, position: { batches: 7 } } as Checkpoint;
      expect(labErrorOf(() => checkResumable(inside, config, 'resume.ckpt')).message).toBe(
        'INVALID_ARGUMENT: cannot start from resume.ckpt: it is a resume point inside epoch 2 (after batch 7) and this run has epochs 1, ' +
          'which needs epochs 2 or more, so nothing is left to train; raise --epochs',
      );
    });

    it('refuses a step schedule over a checkpoint made with another batch size or training set: its milestones would move', () => {
      const config = runConfigFromFlags({ preset: 'paper-odenet', model: 'mlp', epochs: 1 });
      const checkpoint = { config, epoch: 1, step: 469 } as Checkpoint;
      const later = (flags: Parameters<typeof runConfigFromFlags>[0]) => runConfigFromFlags({ epochs: 3, ...flags }, config);
      expect(() => checkResumable(checkpoint, later({}), 'a.ckpt')).not.toThrow();
      expect(labErrorOf(() => checkResumable(checkpoint, later({ batchSize: 256 }), 'a.ckpt')).message).toBe(
        "INVALID_ARGUMENT: cannot start from a.ckpt: --lr-schedule step places its milestones by the update count over this run's " +
          "batches per epoch, and the checkpoint's 469 updates were made with batchSize 128 (this run's: 256); keep its --batch-size, or use another --lr-schedule",
      );
      expect(labErrorOf(() => checkResumable(checkpoint, later({ trainSize: 1000 }), 'a.ckpt')).message).toMatch(
        /made with trainSize "all" \(this run's: 1000\); keep its --train-size, or use another --lr-schedule$/,
      );
      // Another schedule does not count updates by epoch: a new batch size is fine there.
      expect(() => checkResumable(checkpoint, later({ batchSize: 256, lrSchedule: 'constant' }), 'a.ckpt')).not.toThrow();
    });

    it("takes a preset's solver as inherited, not refused, and records what the model does instead of it", () => {
      const mlp = runConfigFromFlags({ preset: 'mnist-odenet', model: 'mlp' });
      // mnist-odenet's dopri5 0.1 with adjoint is not the mlp's: its config holds the schema's default, as a config without a solver would.
      expect(mlp.model.solver).toEqual(SolverSpec.parse({}));
      expect(runConfigFromFlags({ preset: 'shapes-euler', model: 'resnet', dataset: 'mnist' }).model.solver).toEqual(SolverSpec.parse({}));
      const rknet = runConfigFromFlags({ preset: 'mnist-odenet', model: 'rknet' }).model.solver;
      expect(rknet).toEqual(SolverSpec.parse({ method: 'rk4', stepSize: 1 / 6, gradient: 'direct' }));
      // A checkpoint's config (train --resume) likewise, and the config is what the schema reads back.
      expect(runConfigFromFlags({ epochs: 3 }, mlp).model.solver).toEqual(SolverSpec.parse({}));
      expect(RunConfig.parse(mlp)).toEqual(mlp);
    });
  });

  it('refuses an empty or blank --name as --tag and --study refuse one, and trims a name', () => {
    for (const name of ['', '   ']) {
      const e = labErrorOf(() => runConfigFromFlags({ preset: 'shapes-euler', name }));
      expect(e.message, JSON.stringify(name)).toBe('INVALID_ARGUMENT: --name: expected a name, got an empty string');
      expect(e.details).toMatchObject({ field: 'name' });
    }
    expect(runConfigFromFlags({ preset: 'shapes-euler', name: ' lr sweep ' }).name).toBe('lr sweep');
  });
});
