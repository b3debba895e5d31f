// SSIM exactly as scikit-image's `structural_similarity(im1, im2, gaussian_weights=True,
// sigma=1.5, use_sample_covariance=False, data_range=1.0)` on 2-D grey images, the call MindEye
// and MIRAGE make after `rgb2gray`:
//  - Gaussian window: scipy.ndimage.gaussian_filter with truncate=3.5 (radius int(3.5*1.5+0.5)=5,
//    11 taps, weights exp(-x²/2σ²) normalised), mode 'reflect' (d c b a | a b c d | d c b a),
//    applied along axis 0 then axis 1;
//  - population covariance, C1=(0.01·R)², C2=(0.03·R)²;
//  - mean of the SSIM map after cropping pad=(win_size-1)//2 = 5 pixels on every side.
// Precision: skimage keeps float32 inputs in float32 (`_supported_float_type`), and the reference
// feeds float32 tensors, so `precision: 'float32'` (default) stores every intermediate as float32,
// one arithmetic operation per store — that reproduces numpy's float32 ufuncs bit for bit.
// scipy's correlate1d accumulates each output in double (symmetric kernel, far taps first); we do
// the same. `precision: 'float64'` matches skimage on float64 input.
import type { FloatImage } from './image.ts';
import { checkImage, rgb2gray } from './image.ts';

export interface SsimOptions {
  sigma?: number;
  dataRange?: number;
  precision?: 'float32' | 'float64';
}

type Arr = Float32Array | Float64Array;
type ArrCtor = Float32ArrayConstructor | Float64ArrayConstructor;

const TRUNCATE = 3.5;

/** scipy.ndimage._gaussian_kernel1d(sigma, 0, radius), summed in numpy's pairwise order. */
export function gaussianKernel(sigma: number, radius: number): Float64Array {
  const n = 2 * radius + 1;
  const k = new Float64Array(n);
  const c = -0.5 / (sigma * sigma);
  for (let i = 0; i < n; i++) {
    const x = i - radius;
    k[i] = Math.exp(c * (x * x));
  }
  const sum = numpyPairwiseSum(k);
  for (let i = 0; i < n; i++) k[i] /= sum;
  return k;
}

/** numpy's pairwise_sum for short arrays (n < 128): 8 partial sums, combined pairwise, then the tail. */
function numpyPairwiseSum(a: Float64Array): number {
  const n = a.length;
  if (n < 8) {
    let s = 0;
    for (let i = 0; i < n; i++) s += a[i];
    return s;
  }
  const r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
  let i = 8;
  for (; i + 8 <= n; i += 8) for (let j = 0; j < 8; j++) r[j] += a[i + j];
  let res = r[0] + r[1] + (r[2] + r[3]) + (r[4] + r[5] + (r[6] + r[7]));
  for (; i < n; i++) res += a[i];
  return res;
}

/** 'reflect' index (half-sample symmetric), valid for any offset. */
function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n;
  let j = i % period;
  if (j < 0) j += period;
  return j < n ? j : period - 1 - j;
}

/**
 * Separable Gaussian filter of an H x W image, ndimage semantics: axis 0 (rows) then axis 1, each
 * pass written to `Ctor` storage.
 */
export function gaussianFilter2d(src: Arr, height: number, width: number, kernel: Float64Array, Ctor: ArrCtor): Arr {
  const r = (kernel.length - 1) >> 1;
  const w0 = kernel[r];
  // Axis 0, done row by row for cache locality; per element the sum is formed in ndimage's order:
  // centre * w0, then (far pair) ... (near pair).
  const pass1 = new Ctor(height * width);
  const acc = new Float64Array(Math.max(width, height));
  const rowOf = new Int32Array(height + 2 * r);
  for (let i = -r; i < height + r; i++) rowOf[i + r] = reflectIndex(i, height) * width;
  for (let y = 0; y < height; y++) {
    const c = y * width;
    for (let x = 0; x < width; x++) acc[x] = src[c + x] * w0;
    for (let jj = -r; jj < 0; jj++) {
      const a = rowOf[y + r + jj];
      const b = rowOf[y + r - jj];
      const wk = kernel[r + jj];
      for (let x = 0; x < width; x++) acc[x] += (src[a + x] + src[b + x]) * wk;
    }
    for (let x = 0; x < width; x++) pass1[c + x] = acc[x];
  }
  // Axis 1: each row into a padded double line.
  const out = new Ctor(height * width);
  const line = new Float64Array(width + 2 * r);
  const colOf = new Int32Array(width + 2 * r);
  for (let i = -r; i < width + r; i++) colOf[i + r] = reflectIndex(i, width);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let i = 0; i < width + 2 * r; i++) line[i] = pass1[row + colOf[i]];
    for (let x = 0; x < width; x++) {
      const c = x + r;
      let v = line[c] * w0;
      for (let jj = -r; jj < 0; jj++) v += (line[c + jj] + line[c - jj]) * kernel[r + jj];
      out[row + x] = v;
    }
  }
  return out;
}

/** Filtered statistics of one image, reusable when one ground truth meets many reconstructions. */
export interface SsimSide {
  width: number;
  height: number;
  precision: 'float32' | 'float64';
  im: Arr;
  /** filtered mean */
  u: Arr;
  /** filtered mean of squares */
  uu: Arr;
  /** variance uu - u*u (population covariance, cov_norm = 1) */
  v: Arr;
}

function setup(opts: SsimOptions) {
  const sigma = opts.sigma ?? 1.5;
  const radius = Math.trunc(TRUNCATE * sigma + 0.5);
  const precision = opts.precision ?? 'float32';
  const Ctor: ArrCtor = precision === 'float32' ? Float32Array : Float64Array;
  return { sigma, radius, winSize: 2 * radius + 1, precision, Ctor, kernel: gaussianKernel(sigma, radius) };
}

/** Prepares one grey image (H*W values) for SSIM. */
export function ssimSide(gray: Float32Array | Float64Array, width: number, height: number, opts: SsimOptions = {}): SsimSide {
  const { winSize, precision, Ctor, kernel } = setup(opts);
  if (gray.length !== width * height) throw new RangeError(`ssim: ${gray.length} values for ${width}x${height}`);
  if (width < winSize || height < winSize) {
    throw new RangeError(`ssim: image ${width}x${height} is smaller than the ${winSize}x${winSize} window`);
  }
  const n = width * height;
  const im = Ctor === Float32Array ? Float32Array.from(gray) : Float64Array.from(gray);
  const sq = new Ctor(n);
  for (let i = 0; i < n; i++) sq[i] = im[i] * im[i];
  const u = gaussianFilter2d(im, height, width, kernel, Ctor);
  const uu = gaussianFilter2d(sq, height, width, kernel, Ctor);
  const uSq = new Ctor(n);
  for (let i = 0; i < n; i++) uSq[i] = u[i] * u[i];
  const v = new Ctor(n);
  for (let i = 0; i < n; i++) v[i] = uu[i] - uSq[i];
  return { width, height, precision, im, u, uu, v };
}

/** Mean SSIM of two prepared sides (order as skimage: im1 = a, im2 = b; the formula is symmetric). */
export function ssimFromSides(a: SsimSide, b: SsimSide, opts: SsimOptions = {}): number {
  const { radius, Ctor, kernel } = setup({ ...opts, precision: a.precision });
  if (a.width !== b.width || a.height !== b.height) {
    throw new RangeError(`ssim: sizes differ (${a.width}x${a.height} vs ${b.width}x${b.height})`);
  }
  if (a.precision !== b.precision) throw new RangeError('ssim: sides prepared with different precision');
  const { width, height } = a;
  const n = width * height;
  const R = opts.dataRange ?? 1.0;
  const f32 = Ctor === Float32Array;
  const C1 = f32 ? Math.fround((0.01 * R) ** 2) : (0.01 * R) ** 2;
  const C2 = f32 ? Math.fround((0.03 * R) ** 2) : (0.03 * R) ** 2;
  const prod = new Ctor(n);
  for (let i = 0; i < n; i++) prod[i] = a.im[i] * b.im[i];
  const uxy = gaussianFilter2d(prod, height, width, kernel, Ctor);
  // Every step below is one numpy ufunc in skimage: in float32 mode, round after each.
  const fr = Math.fround;
  let sum = 0;
  const pad = radius;
  for (let y = pad; y < height - pad; y++) {
    for (let x = pad; x < width - pad; x++) {
      const i = y * width + x;
      const ux = a.u[i];
      const uy = b.u[i];
      let S: number;
      if (f32) {
        const vxy = fr(uxy[i] - fr(ux * uy));
        const A1 = fr(fr(fr(2 * ux) * uy) + C1);
        const A2 = fr(fr(2 * vxy) + C2);
        const B1 = fr(fr(fr(ux * ux) + fr(uy * uy)) + C1);
        const B2 = fr(fr(a.v[i] + b.v[i]) + C2);
        S = fr(fr(A1 * A2) / fr(B1 * B2));
      } else {
        const vxy = uxy[i] - ux * uy;
        S = ((2 * ux * uy + C1) * (2 * vxy + C2)) / ((ux * ux + uy * uy + C1) * (a.v[i] + b.v[i] + C2));
      }
      sum += S;
    }
  }
  const count = (height - 2 * pad) * (width - 2 * pad);
  return sum / count;
}

/** SSIM of two grey images given as H*W arrays. */
export function ssimGray(a: Float32Array | Float64Array, b: Float32Array | Float64Array, width: number, height: number, opts: SsimOptions = {}): number {
  return ssimFromSides(ssimSide(a, width, height, opts), ssimSide(b, width, height, opts), opts);
}

/** SSIM of two images as the references compute it: rgb2gray of each (float32), then grey SSIM. */
export function ssim(a: FloatImage, b: FloatImage, opts: SsimOptions = {}): number {
  checkImage(a, 'ssim image 1');
  checkImage(b, 'ssim image 2');
  if (a.width !== b.width || a.height !== b.height) {
    throw new RangeError(`ssim: sizes differ (${a.width}x${a.height} vs ${b.width}x${b.height}); resize first`);
  }
  return ssimGray(rgb2gray(a), rgb2gray(b), a.width, a.height, opts);
}
