/**
 * A faster Conv2DBackpropInput for wasm. The shipped one is a scalar loop: 78 ms where the forward conv takes
 * 8 ms (batch 128, 26×26×6, 3×3×6×6, 'same'), and every conv layer's dx in training goes through it.
 *
 * dx is a correlation of dy with the filter's taps. Along an axis of stride s, write the input position plus
 * the leading pad as u = q·s + r: the taps reaching u are k = r + s·j (j = 0, 1, …), from dy[q − j]. So each
 * phase r is a stride-1 correlation of dy with that phase's taps, reversed; no zeros are stuffed into dy (they
 * made a stride-2 dx cost 4.5× its forward conv, 3 of every 4 products being zero). All s_h·s_w phases run as ONE
 * XNNPACK Conv2D whose output channels are (phase row, phase column, input channel); a phase with fewer taps
 * than ⌈f/s⌉ gets zero taps. Our phaseInterleave (simd/assembly) moves the phases to their places and crops to
 * the input in one pass (a Transpose and a Slice took 37 ms of 170 for the 28×28×64 trunk conv).
 * Cases this does not cover (NCHW, non-float32) go to the shipped kernel, kept as `fallback`.
 */
import { tf } from '../tf.js';
import { KernelScope } from './scope.js';
import { simdKernels, type WasmBackend } from './simd/simd-module.js';

type Shape4 = [number, number, number, number];

/** One axis of the decomposition: which dy rows the phase conv reads, its padding, and where dx sits. */
export interface AxisPlan {
  /** Taps per phase, ⌈f/s⌉: the phase conv's filter size along this axis. */
  taps: number;
  /** Phase blocks q covering the input: q0 … q0 + blocks − 1, each s positions u = q·s + r. */
  blocks: number;
  /** dy rows sliced (begin, size) and zero rows padded before/after them: the phase conv's input. */
  begin: number;
  size: number;
  padBefore: number;
  padAfter: number;
  /** Position of input row 0 in the interleaved output (u = pad, less the q0·s not computed). */
  offset: number;
}

/** Plans an axis with input size `inSize`, dy size `outSize`, filter size `f`, stride `s`, leading pad `pad`. */
export function planAxis(inSize: number, outSize: number, f: number, s: number, pad: number): AxisPlan {
  const taps = Math.ceil(f / s);
  const q0 = Math.floor(pad / s);
  const q1 = Math.floor((pad + inSize - 1) / s);
  // Block q needs dy[q − taps + 1 … q]; rows outside dy are zeros, given as padding.
  const lo = q0 - taps + 1;
  const begin = Math.max(0, lo);
  const end = Math.min(outSize - 1, q1); // inclusive
  return { taps, blocks: q1 - q0 + 1, begin, size: end - begin + 1, padBefore: begin - lo, padAfter: q1 - end, offset: pad - q0 * s };
}

/**
 * The phase filter [taps_h, taps_w, outC, s_h·s_w·inC] from the filter [f_h, f_w, inC, outC]: tap (t_h, t_w) of
 * phase (r_h, r_w) is filter tap (r_h + s_h·(taps_h − 1 − t_h), r_w + s_w·(taps_w − 1 − t_w)), transposed.
 */
export function phaseFilter(w: Float32Array, [fh, fw, inC, outC]: Shape4, sh: number, sw: number): { values: Float32Array; shape: Shape4 } {
  const [th, tw] = [Math.ceil(fh / sh), Math.ceil(fw / sw)];
  const phaseC = sh * sw * inC;
  const out = new Float32Array(th * tw * outC * phaseC);
  for (let a = 0; a < th; a++) {
    for (let b = 0; b < tw; b++) {
      for (let rh = 0; rh < sh; rh++) {
        const kh = rh + sh * (th - 1 - a);
        if (kh >= fh) continue;
        for (let rw = 0; rw < sw; rw++) {
          const kw = rw + sw * (tw - 1 - b);
          if (kw >= fw) continue;
          const src = (kh * fw + kw) * inC * outC;
          const dst = (a * tw + b) * outC * phaseC + (rh * sw + rw) * inC;
          for (let ci = 0; ci < inC; ci++) {
            for (let co = 0; co < outC; co++) out[dst + co * phaseC + ci] = w[src + ci * outC + co];
          }
        }
      }
    }
  }
  return { values: out, shape: [th, tw, outC, phaseC] };
}

function fastPath(
  args: Parameters<tf.KernelFunc>[0],
  fallback: tf.KernelFunc,
): tf.TensorInfo | tf.TensorInfo[] {
  const { inputs, attrs } = args;
  const backend = args.backend as tf.KernelBackend;
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const format = tf.backend_util.convertConv2DDataFormat(dataFormat ?? 'NHWC');
  if (format !== 'channelsLast' || dy.dtype !== 'float32' || filter.dtype !== 'float32') return fallback(args);
  const info = tf.backend_util.computeConv2DInfo(
    inputShape, filter.shape as Shape4, strides, 1, pad, dimRoundingMode, false, format,
  );
  const { padInfo, strideHeight: sh, strideWidth: sw, inHeight, inWidth, inChannels } = info;
  const [batch, outH, outW, outC] = dy.shape;
  const rows = planAxis(inHeight, outH, info.filterHeight, sh, padInfo.top);
  const cols = planAxis(inWidth, outW, info.filterWidth, sw, padInfo.left);
  const wasm = backend as unknown as WasmBackend;
  const scope = new KernelScope(backend, 'wasm');
  try {
    if (rows.size <= 0 || cols.size <= 0 || batch === 0 || outC === 0) {
      return scope.keep(scope.run('Fill', {}, { shape: inputShape, value: 0, dtype: 'float32' })); // no dy reaches dx
    }
    let x = dy;
    if (rows.size < outH || cols.size < outW) {
      x = scope.run('Slice', { x: dy }, { begin: [0, rows.begin, cols.begin, 0], size: [batch, rows.size, cols.size, outC] });
    }
    const w = phaseFilter(backend.readSync(filter.dataId) as Float32Array, filter.shape as Shape4, sh, sw);
    const phaseW = scope.adopt(wasm.makeOutput(w.shape, 'float32', undefined, w.values));
    const phased = scope.run('Conv2D', { x, filter: phaseW }, {
      strides: [1, 1],
      dilations: [1, 1],
      pad: [[0, 0], [rows.padBefore, rows.padAfter], [cols.padBefore, cols.padAfter], [0, 0]],
      dataFormat: 'NHWC',
    }); // [batch, rows.blocks, cols.blocks, sh·sw·inC]
    if (sh === 1 && sw === 1) return scope.keep(phased); // one phase, already the input's rows and columns
    const dx = scope.adopt(wasm.makeOutput([batch, inHeight, inWidth, inChannels], 'float32'));
    const simd = simdKernels(backend);
    simd.exports.phaseInterleave(
      simd.pointer(phased), simd.pointer(dx), batch, rows.blocks, cols.blocks, sh, sw, inChannels,
      rows.offset, cols.offset, inHeight, inWidth,
    );
    return scope.keep(dx);
  } finally {
    scope.dispose();
  }
}

/** Wraps the shipped kernel: same setupFunc (it must still run at backend init), faster kernelFunc. */
export function fastConv2DBackpropInputConfig(shipped: tf.KernelConfig): tf.KernelConfig {
  return { ...shipped, kernelFunc: (args) => fastPath(args, shipped.kernelFunc) };
}
