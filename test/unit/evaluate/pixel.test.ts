import { describe, expect, it } from 'vitest';
import { resizeBilinear, resizeShorterEdge, shorterEdgeSize } from '../../../src/core/evaluate/resize.ts';
import { ssim, ssimGray, gaussianKernel } from '../../../src/core/evaluate/ssim.ts';
import { pixCorr } from '../../../src/core/evaluate/pixcorr.ts';
import { rgb2gray } from '../../../src/core/evaluate/image.ts';
import type { FloatImage } from '../../../src/core/evaluate/image.ts';
import { array, cases, image, maxAbsDiff } from './fixtures.ts';

function crop(img: FloatImage, h: number, w: number): FloatImage {
  const out = new Float32Array(h * w * img.channels);
  for (let y = 0; y < h; y++) out.set(img.data.subarray(y * img.width * img.channels, (y * img.width + w) * img.channels), y * w * img.channels);
  return { data: out, width: w, height: h, channels: img.channels };
}
const pairImage = (name: string) => (name === 'noise_a_crop' ? crop(image('noise_a'), 32, 32) : image(name));

describe('bilinear resize = torch interpolate(bilinear, align_corners=False)', () => {
  for (const c of cases.resize) {
    it(`${c.input} -> ${c.height}x${c.width} antialias=${c.antialias}${c.shortEdge ? ` (shorter edge ${c.shortEdge})` : ''}`, () => {
      const src = image(c.input);
      const out = c.shortEdge
        ? resizeShorterEdge(src, c.shortEdge, { antialias: c.antialias })
        : resizeBilinear(src, c.height, c.width, { antialias: c.antialias });
      expect([out.height, out.width]).toEqual([c.height, c.width]);
      expect(maxAbsDiff(out.data, array(c.output).data)).toBeLessThan(1e-6);
    });
  }
  it('antialiasing changes a downscale (so the flag is honoured)', () => {
    const src = image('noise_a');
    const a = resizeBilinear(src, 20, 25, { antialias: true });
    const b = resizeBilinear(src, 20, 25, { antialias: false });
    expect(maxAbsDiff(a.data, b.data)).toBeGreaterThan(1e-2);
  });
  it('shorter-edge size follows torchvision', () => {
    expect(shorterEdgeSize(425, 425, 512)).toEqual({ height: 512, width: 512 });
    expect(shorterEdgeSize(48, 64, 40)).toEqual({ height: 40, width: 53 });
    expect(shorterEdgeSize(64, 48, 40)).toEqual({ height: 53, width: 40 });
  });
});

describe('rgb2gray = skimage (float32)', () => {
  for (const c of cases.gray) {
    it(c.input, () => {
      expect(maxAbsDiff(rgb2gray(image(c.input)), array(c.output).data)).toBeLessThan(1e-7);
    });
  }
});

describe('SSIM = skimage structural_similarity(gaussian_weights, sigma 1.5, population cov, data_range 1)', () => {
  it('Gaussian window has 11 taps summing to 1 (truncate 3.5)', () => {
    const k = gaussianKernel(1.5, 5);
    expect(k.length).toBe(11);
    expect(k.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });
  for (const c of cases.ssim) {
    it(`${c.a} vs ${c.b}`, () => {
      const a = pairImage(c.a);
      const b = pairImage(c.b);
      expect(Math.abs(ssim(b, a) - c.ssim32)).toBeLessThan(1e-6);
      expect(Math.abs(ssim(b, a, { precision: 'float64' }) - c.ssim64)).toBeLessThan(1e-9);
    });
  }
  it('float32 and float64 differ measurably on a near-flat pair (why precision is emulated)', () => {
    const c = cases.ssim.find((x: { a: string; b: string }) => x.a === 'flat' && x.b === 'flat_noise');
    expect(Math.abs(c.ssim32 - c.ssim64)).toBeGreaterThan(1e-6);
  });
  it('rejects images smaller than the window', () => {
    const g = new Float32Array(10 * 10);
    expect(() => ssimGray(g, g, 10, 10)).toThrow(/window/);
  });
});

describe('PixCorr = np.corrcoef over all RGB values', () => {
  for (const c of cases.pixcorr) {
    it(`${c.a} vs ${c.b}`, () => {
      const r = pixCorr(pairImage(c.a), pairImage(c.b));
      if (c.pixcorr === null) expect(Number.isNaN(r)).toBe(true);
      else expect(Math.abs(r - c.pixcorr)).toBeLessThan(1e-9);
    });
  }
});

describe('MindEye / MIRAGE pipeline at real sizes (425 stimulus, 256 reconstruction)', () => {
  for (const c of cases.pipeline) {
    it(`${c.gt} vs ${c.recon} @${c.size}${c.antialias === false ? ' no-antialias' : ''}`, () => {
      const aa = c.antialias ?? true;
      // the grad_d case resizes both sides to exactly size x size (the Resize((512, 512)) call)
      const exact = c.gt === 'grad_d';
      const g = exact ? resizeBilinear(image(c.gt), c.size, c.size, { antialias: true }) : resizeShorterEdge(image(c.gt), c.size, { antialias: aa });
      const r = exact ? resizeBilinear(image(c.recon), c.size, c.size, { antialias: aa }) : resizeShorterEdge(image(c.recon), c.size, { antialias: aa });
      expect(Math.abs(pixCorr(g, r) - c.pixcorr)).toBeLessThan(1e-6);
      expect(Math.abs(ssim(r, g) - c.ssim)).toBeLessThan(1e-6);
    });
  }
});

describe('pixel suite (prepared ground truth) equals the one-off path and the fixtures', () => {
  it('matches the 512 pipeline fixtures and caches the ground truth', async () => {
    const { prepareGroundTruth, pixelMetricsPrepared, pixelMetrics } = await import('../../../src/core/evaluate/pixelSuite.ts');
    for (const c of cases.pipeline.filter((x: { gt: string }) => x.gt !== 'grad_d')) {
      const gt = prepareGroundTruth(image(c.gt), { size: c.size });
      const m = pixelMetricsPrepared(gt, image(c.recon));
      expect(Math.abs(m.pixcorr - c.pixcorr)).toBeLessThan(1e-6);
      expect(Math.abs(m.ssim - c.ssim)).toBeLessThan(1e-6);
      expect(m.size).toBe(c.size);
      const again = pixelMetrics(image(c.gt), image(c.recon), { size: c.size });
      expect(again.ssim).toBe(m.ssim);
    }
  });
});
