// Bilinear resizing with the semantics of the reference code. MindEye and MIRAGE resize float
// tensors with torchvision `transforms.Resize(size, interpolation=BILINEAR)`, which calls
// `torch.nn.functional.interpolate(mode='bilinear', align_corners=False, antialias=...)`.
// torchvision >= 0.17 defaults to antialias=True for tensors (0.15/0.16 warned and used False), so
// both are offered; `antialias: true` is the default. Without antialiasing, downscaling samples
// only the two nearest source pixels per axis; with it, the tent filter is widened by the scale
// factor (PIL-style), which matters when 1024-pixel reconstructions go down to 512.
// Integer `size` follows torchvision: the shorter edge becomes `size`, the longer one
// int(size * long / short).
import type { FloatImage } from './image.ts';
import { checkImage } from './image.ts';

export interface ResizeOptions {
  /** torch `antialias`; default true (torchvision >= 0.17 default for tensors). */
  antialias?: boolean;
}

interface AxisWeights {
  /** first source index per output index */
  start: Int32Array;
  /** number of taps per output index */
  count: Int32Array;
  /** taps, `maxTaps` per output index */
  w: Float64Array;
  maxTaps: number;
}

const f32 = Math.fround;

/**
 * torch upsample_bilinear2d (align_corners=False) weights along one axis. ATen's scale is a float32
 * (in/out); the source coordinate scale*(i+0.5)-0.5 is then formed in double (checked against
 * torch: rounding it to float32 instead is off by up to 1e-6 on 64-pixel rows).
 */
function linearWeights(inSize: number, outSize: number): AxisWeights {
  const scale = f32(inSize / outSize);
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const w = new Float64Array(outSize * 2);
  for (let i = 0; i < outSize; i++) {
    let src = scale * (i + 0.5) - 0.5;
    if (src < 0) src = 0;
    const i0 = Math.floor(src);
    const l1 = src - i0;
    const l0 = 1 - l1;
    start[i] = i0;
    if (i0 < inSize - 1) {
      count[i] = 2;
      w[2 * i] = l0;
      w[2 * i + 1] = l1;
    } else {
      // ATen points both taps at the last pixel; their weights sum to 1.
      count[i] = 1;
      w[2 * i] = l0 + l1;
    }
  }
  return { start, count, w, maxTaps: 2 };
}

/** torch _upsample_bilinear2d_aa weights along one axis (tent filter, support widened by the scale). */
function antialiasWeights(inSize: number, outSize: number): AxisWeights {
  const scale = f32(inSize / outSize);
  const support = scale >= 1 ? f32(1 * scale) : 1;
  const invscale = scale >= 1 ? f32(1 / scale) : 1;
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const w = new Float64Array(outSize * maxTaps);
  for (let i = 0; i < outSize; i++) {
    const center = f32(scale * f32(i + 0.5));
    // C++ truncation toward zero of (center -/+ support + 0.5)
    const xmin = Math.max(Math.trunc(f32(f32(center - support) + 0.5)), 0);
    const xmax = Math.min(Math.trunc(f32(f32(center + support) + 0.5)), inSize);
    const xsize = Math.min(xmax - xmin, maxTaps);
    let total = 0;
    const base = i * maxTaps;
    for (let j = 0; j < xsize; j++) {
      const x = f32(f32(f32(j + xmin) - center + 0.5) * invscale);
      const ax = Math.abs(x);
      const v = ax < 1 ? f32(1 - ax) : 0;
      w[base + j] = v;
      total += v;
    }
    for (let j = 0; j < xsize; j++) w[base + j] = total !== 0 ? w[base + j] / total : 0;
    start[i] = xmin;
    count[i] = xsize;
  }
  return { start, count, w, maxTaps };
}

/** Resize to exactly outHeight x outWidth. */
export function resizeBilinear(img: FloatImage, outHeight: number, outWidth: number, opts: ResizeOptions = {}): FloatImage {
  checkImage(img, 'resize input');
  if (!(outHeight > 0 && outWidth > 0 && Number.isInteger(outHeight) && Number.isInteger(outWidth))) {
    throw new RangeError(`resizeBilinear: output size ${outHeight}x${outWidth} must be positive integers`);
  }
  const { width: W, height: H, channels: C } = img;
  if (W === outWidth && H === outHeight) return { ...img, data: img.data.slice() };
  const aa = opts.antialias ?? true;
  const make = aa ? antialiasWeights : linearWeights;
  const wx = make(W, outWidth);
  const wy = make(H, outHeight);
  // Horizontal pass first, then vertical (ATen's separable order for the antialiased kernel).
  const tmp = new Float64Array(H * outWidth * C);
  const src = img.data;
  for (let y = 0; y < H; y++) {
    const rowIn = y * W * C;
    const rowOut = y * outWidth * C;
    for (let x = 0; x < outWidth; x++) {
      const s = wx.start[x];
      const n = wx.count[x];
      const b = x * wx.maxTaps;
      for (let c = 0; c < C; c++) {
        let acc = 0;
        for (let k = 0; k < n; k++) acc += wx.w[b + k] * src[rowIn + (s + k) * C + c];
        tmp[rowOut + x * C + c] = acc;
      }
    }
  }
  const out = new Float32Array(outHeight * outWidth * C);
  const rowLen = outWidth * C;
  // Accumulate each output row in float64, round to float32 once.
  const acc = new Float64Array(rowLen);
  for (let y = 0; y < outHeight; y++) {
    const s = wy.start[y];
    const n = wy.count[y];
    const b = y * wy.maxTaps;
    acc.fill(0);
    for (let k = 0; k < n; k++) {
      const wk = wy.w[b + k];
      const r = (s + k) * rowLen;
      for (let i = 0; i < rowLen; i++) acc[i] += wk * tmp[r + i];
    }
    out.set(acc, y * rowLen);
  }
  return { data: out, width: outWidth, height: outHeight, channels: C };
}

/** torchvision `Resize(size)` output size for an int size: shorter edge -> size, aspect kept. */
export function shorterEdgeSize(height: number, width: number, size: number): { height: number; width: number } {
  if (width <= height) return { width: size, height: Math.trunc((size * height) / width) };
  return { height: size, width: Math.trunc((size * width) / height) };
}

/** torchvision `transforms.Resize(size, BILINEAR)` on a float tensor, int `size`. */
export function resizeShorterEdge(img: FloatImage, size: number, opts: ResizeOptions = {}): FloatImage {
  const s = shorterEdgeSize(img.height, img.width, size);
  return resizeBilinear(img, s.height, s.width, opts);
}
