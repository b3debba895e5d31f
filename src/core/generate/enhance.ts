// MIRAGE's low-level enhancement (REFERENCE.md §4.1) on uint8 RGB images with Pillow's exact
// integer/float arithmetic, so that the TypeScript output equals PIL's byte for byte:
//   img.resize((S, S), Image.LANCZOS) -> ImageEnhance.Sharpness(img).enhance(20)
//   -> ImageEnhance.Contrast(img).enhance(1.5)
// Why our own: no browser library reproduces Pillow's fixed-point two-pass resampler, its float32
// 3x3 filter or its blend/truncation rules, and the reconstruction must match the Python pipeline.
// Every detail below mirrors Pillow 9.x's libImaging (Resample.c, Filter.c, Blend.c, Convert.c).
import { BundleError } from '../base/errors.ts';

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

export type PilFilter = 'lanczos' | 'bicubic';
const FILTERS: Record<PilFilter, { fn: (x: number) => number; support: number }> = {
  lanczos: { fn: lanczos, support: 3 },
  bicubic: { fn: bicubic, support: 2 },
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
// ImageFilter.SMOOTH: 3x3 kernel [[1,1,1],[1,5,1],[1,1,1]] / 13 in float32, border pixels copied.

const f32 = Math.fround;

/** Filter.c clip8 for float accumulators: truncation toward zero after clamping. */
function clip8Float(v: number): number {
  if (v <= 0) return 0;
  if (v >= 255) return 255;
  return Math.trunc(v);
}

/** `img.filter(ImageFilter.SMOOTH)` (ImagingFilter3x3 with float32 arithmetic). */
export function smoothFilter(img: RgbImage): RgbImage {
  return smoothThen(img, null);
}

/**
 * The SMOOTH filter, each filtered byte v of pixel byte x written as blend[(v << 8) | x] when a
 * blend table is given (sharpness in one pass: no intermediate smoothed image), else v. Border
 * bytes stay as they are (a blend of x with itself is x).
 */
function smoothThen(img: RgbImage, blend: Uint8Array | null): RgbImage {
  checkRgb(img);
  const { width: w, height: h, data } = img;
  const out = data.slice(); // first/last row and first/last column stay as they are
  if (w < 3 || h < 3) return { width: w, height: h, data: out };
  // _imaging.c divides each kernel value by the divisor in float32. Every product is a uint8 times
  // one of two constants, so the float32 products come from two 256-entry tables (same values).
  const k1 = f32(1 / 13);
  const k5 = f32(5 / 13);
  const by1 = new Float32Array(256);
  const by5 = new Float32Array(256);
  for (let v = 0; v < 256; v++) {
    by1[v] = v * k1;
    by5[v] = v * k5;
  }
  const offset = f32(0 + 0.5); // "add one time for rounding"
  const rowLen = w * 3;
  for (let y = 1; y < h - 1; y++) {
    const p0 = y * rowLen;
    const pNext = p0 + rowLen;
    const pPrev = p0 - rowLen;
    for (let i = 3; i < rowLen - 3; i++) {
      // KERNEL1x3(row, x, k) = row[x-1]*k[0] + row[x]*k[1] + row[x+1]*k[2], each op in float32;
      // Pillow's order: row y+1, then row y (centre weight 5/13), then row y-1.
      let s = f32(offset + f32(f32(by1[data[pNext + i - 3]] + by1[data[pNext + i]]) + by1[data[pNext + i + 3]]));
      s = f32(s + f32(f32(by1[data[p0 + i - 3]] + by5[data[p0 + i]]) + by1[data[p0 + i + 3]]));
      s = f32(s + f32(f32(by1[data[pPrev + i - 3]] + by1[data[pPrev + i]]) + by1[data[pPrev + i + 3]]));
      const v = clip8Float(s);
      out[p0 + i] = blend ? blend[(v << 8) | data[p0 + i]] : v;
    }
  }
  return { width: w, height: h, data: out };
}

// ---------------------------------------------------------------------------------------------
// Image.blend(degenerate, image, factor): out = deg + factor·(img − deg) in float32, truncated;
// clipped to [0, 255] only when factor lies outside [0, 1] (as Blend.c does).

/** Blend.c's result for one (degenerate, image) byte pair. */
function blendValue(d: number, v: number, a: number, extrapolate: boolean): number {
  const t = f32(d + f32(a * (v - d)));
  if (extrapolate) return t <= 0 ? 0 : t >= 255 ? 255 : Math.trunc(t);
  return Math.trunc(t) & 0xff; // (UINT8) cast; stays in range when interpolating
}

/**
 * Every (degenerate, image) byte pair's blend, as a 256x256 table indexed [d << 8 | v]: the blend
 * of an image is then one lookup per byte (the same values as computing each one).
 */
function blendTable(factor: number): Uint8Array {
  const a = f32(factor);
  const extrapolate = !(a >= 0 && a <= 1);
  const lut = new Uint8Array(256 * 256);
  for (let d = 0; d < 256; d++) for (let v = 0; v < 256; v++) lut[(d << 8) | v] = blendValue(d, v, a, extrapolate);
  return lut;
}

/** `ImageEnhance.Sharpness(img).enhance(factor)`. */
export function sharpness(img: RgbImage, factor: number): RgbImage {
  return smoothThen(img, blendTable(factor));
}

/** Mean of `img.convert('L')` (ITU-R 601-2 luma in Pillow's 16-bit fixed point), as ImageStat computes it. */
export function greyMean(img: RgbImage): number {
  checkRgb(img);
  const hist = new Float64Array(256);
  const d = img.data;
  for (let i = 0; i < d.length; i += 3) {
    // Convert.c L24: (r*19595 + g*38470 + b*7471 + 0x8000) >> 16
    hist[(d[i] * 19595 + d[i + 1] * 38470 + d[i + 2] * 7471 + 0x8000) >>> 16]++;
  }
  // ImageStat: sum(i * h[i]) / count, in Python floats.
  let sum = 0;
  let n = 0;
  for (let i = 0; i < 256; i++) {
    sum += i * hist[i];
    n += hist[i];
  }
  return sum / n;
}

/** `ImageEnhance.Contrast(img).enhance(factor)`: blend with the grey level int(mean + 0.5). */
export function contrast(img: RgbImage, factor: number): RgbImage {
  const mean = Math.trunc(greyMean(img) + 0.5);
  const a = f32(factor);
  const extrapolate = !(a >= 0 && a <= 1);
  // the degenerate image is one grey level: a 256-entry table of the blend
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = blendValue(mean, v, a, extrapolate);
  const src = img.data;
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = lut[src[i]];
  return { width: img.width, height: img.height, data: out };
}

export interface EnhanceSettings {
  /** Output side in pixels (the square the low-level image is resized to). */
  size: number;
  /** ImageEnhance.Sharpness factor (MIRAGE: 20). */
  sharpness: number;
  /** ImageEnhance.Contrast factor (MIRAGE: 1.5). */
  contrast: number;
}

export const MIRAGE_ENHANCE: EnhanceSettings = { size: 1024, sharpness: 20, contrast: 1.5 };

/** MIRAGE's chain: Lanczos resize -> sharpness -> contrast. */
export function enhanceLowLevel(img: RgbImage, settings: EnhanceSettings = MIRAGE_ENHANCE): RgbImage {
  const resized = resizeLanczos(img, settings.size, settings.size);
  return contrast(sharpness(resized, settings.sharpness), settings.contrast);
}
