// MIRAGE's low-level enhancement (docs/background.md §4.1) on uint8 RGB images with Pillow's exact
// integer/float arithmetic, so that the TypeScript output equals PIL's byte for byte:
//   img.resize((S, S), Image.LANCZOS) -> ImageEnhance.Sharpness(img).enhance(20)
//   -> ImageEnhance.Contrast(img).enhance(1.5)
// Why our own: no browser library reproduces Pillow's float32 3x3 filter or its blend/truncation
// rules, and the reconstruction must match the Python pipeline. Every detail below mirrors Pillow
// 9.x's libImaging (Filter.c, Blend.c, Convert.c); the resize (Resample.c) is base/image.ts's.
import { checkRgb, resizeLanczos, type RgbImage } from '../base/image.ts';

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
