// Pure conversions of 8-bit RGB images, shared by the reconstruction (generate/), the cortex
// view's low-level image (cortex/) and the metrics' preprocessing (evaluate/): the RgbImage type,
// Pillow's exact resampler, the tensor <-> pixel conventions of torchvision and VDVAE, and CLIP's
// resize + centre crop. Nothing here knows a model: the mean/std and sizes come from the caller.
// The resampler mirrors Pillow 9.x's libImaging Resample.c so that the TypeScript output equals
// PIL's byte for byte (checked against Pillow fixtures in test/unit/generate/enhance.test.ts).
import { BundleError } from './errors.ts';

/** An 8-bit RGB image, HWC row-major (what PNG decoding and the bundle's images give). */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export function checkRgb(img: RgbImage, what = 'image'): void {
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width <= 0 || img.height <= 0) {
    throw new BundleError(what, `bad size ${img.width}x${img.height}`, { field: 'width/height', expected: 'positive integers' });
  }
  if (img.data.length !== img.width * img.height * 3) {
    throw new BundleError(what, `data has ${img.data.length} bytes`, {
      field: 'data',
      expected: `${img.height}x${img.width}x3 = ${img.width * img.height * 3}`,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Resize: Pillow's ImagingResample (separable, horizontal pass first, each pass rounded to uint8).

/** Pillow's 8-bit coefficient precision: 32 - 8 - 2 bits. */
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

/** Pillow's Lanczos: sinc(x)·sinc(x/3) on [-3, 3). */
function lanczos(x: number): number {
  return x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0;
}

/** Pillow's bicubic (a = -0.5), support 2: what HF's CLIPImageProcessor resizes with. */
function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** Pillow's triangle filter (Resample.c bilinear_filter): what torchvision's default resize of a PIL image uses. */
function bilinear(x: number): number {
  const a = Math.abs(x);
  return a < 1 ? 1 - a : 0;
}

export type PilFilter = 'lanczos' | 'bicubic' | 'bilinear';
const FILTERS: Record<PilFilter, { fn: (x: number) => number; support: number }> = {
  lanczos: { fn: lanczos, support: 3 },
  bicubic: { fn: bicubic, support: 2 },
  bilinear: { fn: bilinear, support: 1 },
};

interface Coeffs {
  ksize: number;
  /** per output: first source index, tap count */
  bounds: Int32Array;
  /** fixed-point taps, ksize per output */
  kk: Int32Array;
}

/** precompute_coeffs + normalize_coeffs_8bpc for one axis (box = whole input). */
function precomputeCoeffs(inSize: number, outSize: number, filter: PilFilter): Coeffs {
  const { fn, support: baseSupport } = FILTERS[filter];
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = baseSupport * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) truncates toward zero.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = fn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      const v = x < xmax ? (ww !== 0 ? k[x] / ww : k[x]) : 0;
      kk[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

/** Pillow Resample.c clip8: fixed-point accumulator -> uint8. */
function clip8Fixed(v: number): number {
  if (v >= ONE * 256) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / ONE); // v > 0, so this is the arithmetic shift
}

/** `Image.resize((width, height), Image.LANCZOS)`. */
export function resizeLanczos(img: RgbImage, width: number, height: number): RgbImage {
  return resizePil(img, width, height, 'lanczos');
}

/**
 * `Image.resize((width, height), filter)` for an RGB image. The accumulators are exact in
 * float64 (|sum| < 2^31 as in Pillow's int32), so the result is bit-identical.
 */
export function resizePil(img: RgbImage, width: number, height: number, filter: PilFilter): RgbImage {
  checkRgb(img);
  if (width === img.width && height === img.height) return { width, height, data: img.data.slice() };
  const needH = width !== img.width;
  const needV = height !== img.height;
  const cv = precomputeCoeffs(img.height, height, filter);
  let src = img.data;
  let srcW = img.width;
  let srcH = img.height;
  let rowOffset = 0;
  if (needH) {
    const ch = precomputeCoeffs(img.width, width, filter);
    // Only the rows the vertical pass will read (Pillow's ybox_first..ybox_last).
    const first = needV ? cv.bounds[0] : 0;
    const last = needV ? cv.bounds[2 * height - 2] + cv.bounds[2 * height - 1] : img.height;
    const rows = last - first;
    const tmp = new Uint8Array(width * rows * 3);
    const half = 1 << (PRECISION_BITS - 1);
    for (let y = 0; y < rows; y++) {
      const inRow = (y + first) * img.width * 3;
      for (let xx = 0; xx < width; xx++) {
        const xmin = ch.bounds[2 * xx];
        const xmax = ch.bounds[2 * xx + 1];
        const kb = xx * ch.ksize;
        let s0 = half;
        let s1 = half;
        let s2 = half;
        for (let x = 0; x < xmax; x++) {
          const w = ch.kk[kb + x];
          const p = inRow + (x + xmin) * 3;
          s0 += src[p] * w;
          s1 += src[p + 1] * w;
          s2 += src[p + 2] * w;
        }
        const o = (y * width + xx) * 3;
        tmp[o] = clip8Fixed(s0);
        tmp[o + 1] = clip8Fixed(s1);
        tmp[o + 2] = clip8Fixed(s2);
      }
    }
    src = tmp;
    srcW = width;
    srcH = rows;
    rowOffset = first;
  }
  if (!needV) return { width, height, data: src };
  // Vertical pass one output row at a time: each tap adds a whole source row to a row of int32
  // accumulators (sequential memory; the same int32 sums in the same order as Pillow's per-pixel loop).
  const out = new Uint8Array(width * height * 3);
  const half = 1 << (PRECISION_BITS - 1);
  const rowLen = srcW * 3;
  const acc = new Int32Array(rowLen);
  for (let yy = 0; yy < height; yy++) {
    const ymin = cv.bounds[2 * yy] - rowOffset;
    const ymax = cv.bounds[2 * yy + 1];
    const kb = yy * cv.ksize;
    acc.fill(half);
    for (let y = 0; y < ymax; y++) {
      const w = cv.kk[kb + y];
      const p = (y + ymin) * rowLen;
      for (let j = 0; j < rowLen; j++) acc[j] = (acc[j] + src[p + j] * w) | 0;
    }
    const o = yy * rowLen;
    for (let j = 0; j < rowLen; j++) {
      const v = acc[j];
      out[o + j] = v >= ONE * 256 ? 255 : v <= 0 ? 0 : v >> PRECISION_BITS;
    }
  }
  void srcH;
  return { width, height, data: out };
}

// ---------------------------------------------------------------------------------------------
// Tensor <-> pixel conventions and CLIP-style cropping.

/** uint8 HWC -> float32 CHW, x/255 then (x − mean)/std per channel. */
export function toNormalizedChw(img: RgbImage, mean: number[], std: number[]): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) out[c * n + i] = (img.data[i * 3 + c] / 255 - mean[c]) / std[c];
  }
  return out;
}

/** float32 CHW in [0, 1] -> uint8 HWC the way torchvision's to_pil_image does (clamp, ×255, truncate). */
export function chwToRgb(chw: Float32Array, offset: number, width: number, height: number): RgbImage {
  const n = width * height;
  const data = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.min(1, Math.max(0, chw[offset + c * n + i]));
      data[i * 3 + c] = Math.trunc(v * 255);
    }
  }
  return { width, height, data };
}

/** VDVAE's DmolNet.sample output convention: [-1, 1] HWC -> uint8 by clamp((x + 1)·127.5) and truncation. */
export function vdvaeToRgb(hwc: Float32Array, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.trunc(Math.min(255, Math.max(0, (hwc[i] + 1) * 127.5)));
  return { width, height, data };
}

/** Center crop to a square of `size` after resizing the short side to `size` (CLIP preprocessing). */
export function resizeCenterCrop(img: RgbImage, size: number, filter: PilFilter): RgbImage {
  const scale = size / Math.min(img.width, img.height);
  const w = Math.max(size, Math.round(img.width * scale));
  const h = Math.max(size, Math.round(img.height * scale));
  const r = w === img.width && h === img.height ? img : resizePil(img, w, h, filter);
  if (w === size && h === size) return r;
  const x0 = Math.round((w - size) / 2);
  const y0 = Math.round((h - size) / 2);
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) data.set(r.data.subarray(((y + y0) * w + x0) * 3, ((y + y0) * w + x0 + size) * 3), y * size * 3);
  return { width: size, height: size, data };
}

// ---------------------------------------------------------------------------------------------
// Canvas layouts: ImageData and canvases hold RGBA; the project's images are RGB.

/** RGB bytes (HWC) -> RGBA with opaque alpha, the layout ImageData takes. */
export function rgbToRgba(rgb: ArrayLike<number>): Uint8ClampedArray<ArrayBuffer> {
  const rgba = new Uint8ClampedArray((rgb.length / 3) * 4);
  for (let i = 0, j = 0; j < rgb.length; i += 4, j += 3) {
    rgba[i] = rgb[j];
    rgba[i + 1] = rgb[j + 1];
    rgba[i + 2] = rgb[j + 2];
    rgba[i + 3] = 255;
  }
  return rgba;
}

/** RGBA bytes (e.g. a canvas's ImageData) -> an RgbImage, alpha dropped. */
export function rgbaToRgb(rgba: ArrayLike<number>, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; j < data.length; i += 4, j += 3) {
    data[j] = rgba[i];
    data[j + 1] = rgba[i + 1];
    data[j + 2] = rgba[i + 2];
  }
  return { width, height, data };
}
