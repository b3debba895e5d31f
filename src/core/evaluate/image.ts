// The image type every metric takes: float32, values in [0, 1], HWC (height, width, channels),
// row-major. Matches the reference code's tensors after `.permute(1, 2, 0)`.
import { BundleError } from '../base/errors.ts';

export interface FloatImage {
  data: Float32Array;
  width: number;
  height: number;
  /** 1 (grey) or 3 (RGB). */
  channels: number;
}

export function floatImage(width: number, height: number, channels: number, data?: Float32Array): FloatImage {
  const d = data ?? new Float32Array(width * height * channels);
  checkImage({ data: d, width, height, channels }, 'image');
  return { data: d, width, height, channels };
}

/** Throws a BundleError naming `what` when the image's fields disagree. */
export function checkImage(img: FloatImage, what: string): void {
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width <= 0 || img.height <= 0) {
    throw new BundleError(what, `bad size ${img.width}x${img.height}`, { field: 'width/height', expected: 'positive integers' });
  }
  if (img.channels !== 1 && img.channels !== 3) {
    throw new BundleError(what, `unsupported channel count ${img.channels}`, { field: 'channels', expected: '1 or 3' });
  }
  if (img.data.length !== img.width * img.height * img.channels) {
    throw new BundleError(what, `data has ${img.data.length} values`, {
      field: 'data',
      expected: `${img.height}x${img.width}x${img.channels} = ${img.width * img.height * img.channels}`,
    });
  }
}

/** uint8 HWC (as decoded from PNG or stored in a bundle) -> float32 in [0, 1] (x / 255, like ToTensor). */
export function fromUint8(data: Uint8Array, width: number, height: number, channels: number): FloatImage {
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] / 255;
  return floatImage(width, height, channels, out);
}

/** float [0,1] -> uint8, rounded to nearest and clamped (for writing PNGs). */
export function toUint8(img: FloatImage): Uint8Array {
  const out = new Uint8Array(img.data.length);
  for (let i = 0; i < img.data.length; i++) {
    const v = Math.round(img.data[i] * 255);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}

/** Grey images are broadcast to RGB so that PixCorr always sees 3 channels, like the references. */
export function toRgb(img: FloatImage): FloatImage {
  if (img.channels === 3) return img;
  const n = img.width * img.height;
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = img.data[i];
  return { data: out, width: img.width, height: img.height, channels: 3 };
}

/**
 * skimage.color.rgb2gray on a float32 image: luminance 0.2125 R + 0.7154 G + 0.0721 B, computed in
 * float32 like skimage (it keeps the input dtype: `rgb @ coeffs` with float32 coefficients).
 */
export const RGB2GRAY = [0.2125, 0.7154, 0.0721] as const;
export function rgb2gray(img: FloatImage): Float32Array {
  const n = img.width * img.height;
  if (img.channels === 1) return img.data.slice();
  const c0 = Math.fround(RGB2GRAY[0]);
  const c1 = Math.fround(RGB2GRAY[1]);
  const c2 = Math.fround(RGB2GRAY[2]);
  const out = new Float32Array(n);
  const d = img.data;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    out[i] = Math.fround(Math.fround(Math.fround(d[j] * c0) + Math.fround(d[j + 1] * c1)) + Math.fround(d[j + 2] * c2));
  }
  return out;
}
