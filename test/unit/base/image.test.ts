// base/image.ts's conversions (the resampler itself is checked against Pillow fixtures in
// test/unit/generate/enhance.test.ts): torchvision's to_pil_image, VDVAE's output convention,
// normalisation to CHW, CLIP's short-side resize + centre crop, and the size checks.
import { describe, expect, it } from 'vitest';
import { checkRgb, chwToRgb, resizeCenterCrop, resizePil, rgbaToRgb, rgbToRgba, toNormalizedChw, vdvaeToRgb, type RgbImage } from '../../../src/core/base/image.ts';
import { BundleError } from '../../../src/core/base/errors.ts';

/** A w x h image whose bytes encode their own position (distinct rows and columns). */
function ramp(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([(x * 7) & 255, (y * 11) & 255, (x + y) & 255], (y * width + x) * 3);
  return { width, height, data };
}

describe('tensor <-> pixel conventions', () => {
  it('chwToRgb clamps to [0, 1], scales by 255 and truncates (to_pil_image), reading planes from an offset', () => {
    // 2x1 image at offset 3: planes R = [0.5, 1.2], G = [-0.1, 0.999], B = [0.0039, 1]
    const chw = Float32Array.from([9, 9, 9, 0.5, 1.2, -0.1, 0.999, 0.0039, 1]);
    const img = chwToRgb(chw, 3, 2, 1);
    expect(img).toEqual({ width: 2, height: 1, data: Uint8Array.from([127, 0, 0, 255, 254, 255]) });
  });

  it('vdvaeToRgb maps [-1, 1] HWC to uint8 by clamp((x + 1)·127.5) and truncation', () => {
    const img = vdvaeToRgb(Float32Array.from([-1, 0, 1, -2, 0.5, 2]), 2, 1);
    expect(Array.from(img.data)).toEqual([0, 127, 255, 0, 191, 255]);
  });

  it('toNormalizedChw writes channel planes of (x/255 − mean)/std', () => {
    const img: RgbImage = { width: 2, height: 1, data: Uint8Array.from([255, 0, 51, 0, 255, 102]) };
    const out = toNormalizedChw(img, [0.5, 0, 0.2], [0.5, 1, 0.1]);
    const want = [1, -1, 0, 1, 0, 2];
    want.forEach((v, i) => expect(out[i]).toBeCloseTo(v, 6));
  });
});

describe('canvas layouts', () => {
  it('rgbToRgba adds opaque alpha; rgbaToRgb drops it (round trip)', () => {
    const img = ramp(3, 2);
    const rgba = rgbToRgba(img.data);
    expect(rgba).toHaveLength(3 * 2 * 4);
    expect(Array.from(rgba.subarray(4, 8))).toEqual([...img.data.subarray(3, 6), 255]);
    expect(rgbaToRgb(rgba, 3, 2)).toEqual(img);
  });
});

describe('resizeCenterCrop', () => {
  it('resizes the short side to the size, then crops the centre square', () => {
    const img = ramp(12, 6);
    const out = resizeCenterCrop(img, 4, 'bicubic');
    const resized = resizePil(img, 8, 4, 'bicubic');
    expect(out.width).toBe(4);
    expect(out.height).toBe(4);
    for (let y = 0; y < 4; y++) expect(out.data.subarray(y * 12, y * 12 + 12)).toEqual(resized.data.subarray((y * 8 + 2) * 3, (y * 8 + 6) * 3));
  });

  it('returns a square image of the size unchanged', () => {
    const img = ramp(5, 5);
    expect(resizeCenterCrop(img, 5, 'lanczos')).toBe(img);
  });
});

describe('checkRgb', () => {
  it('names the image, the field and the expected byte count', () => {
    expect(() => checkRgb({ width: 2, height: 2, data: new Uint8Array(11) }, 'candidate 3')).toThrow(BundleError);
    expect(() => checkRgb({ width: 2, height: 2, data: new Uint8Array(11) }, 'candidate 3')).toThrow('candidate 3: data: data has 11 bytes (expected 2x2x3 = 12)');
    expect(() => checkRgb({ width: 0, height: 2, data: new Uint8Array(0) })).toThrow('width/height');
  });
});
