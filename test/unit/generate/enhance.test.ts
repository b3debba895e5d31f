// Enhancement against Pillow 9.4 fixtures (test/fixtures/gen/enhance.py): every step must equal
// PIL byte for byte (resize, SMOOTH filter, sharpness x20, contrast x1.5, and the MIRAGE chain).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { contrast, enhanceLowLevel, greyMean, sharpness, smoothFilter } from '../../../src/core/generate/enhance.ts';
import { resizeLanczos, resizePil, type RgbImage } from '../../../src/core/base/image.ts';

const DIR = join(__dirname, '../../fixtures/enhance');
interface Ref {
  file: string;
  width: number;
  height: number;
}
interface Step {
  size: number | [number, number];
  greyMeanOfSharp?: number;
  resized?: Ref;
  smooth?: Ref;
  sharp?: Ref;
  enhanced?: Ref;
}
const index = JSON.parse(readFileSync(join(DIR, 'index.json'), 'utf8')) as {
  cases: { name: string; input: Ref; steps: Step[]; contrast04: Ref; bicubic: Ref[] }[];
};

function load(ref: Ref): RgbImage {
  return { width: ref.width, height: ref.height, data: gunzipSync(readFileSync(join(DIR, ref.file))) };
}

/** Count of differing bytes and the largest absolute difference. */
function diff(a: RgbImage, b: RgbImage): { n: number; max: number } {
  expect([a.width, a.height]).toEqual([b.width, b.height]);
  let n = 0;
  let max = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i] - b.data[i]);
    if (d) n++;
    if (d > max) max = d;
  }
  return { n, max };
}

describe('enhance (Pillow semantics)', () => {
  for (const c of index.cases) {
    const input = load(c.input);
    for (const step of c.steps) {
      const [w, h] = Array.isArray(step.size) ? step.size : [step.size, step.size];
      it(`${c.name} ${w}x${h}: every step equals PIL exactly`, () => {
        const resized = resizeLanczos(input, w, h);
        if (step.resized) expect(diff(resized, load(step.resized))).toEqual({ n: 0, max: 0 });
        if (step.smooth) expect(diff(smoothFilter(resized), load(step.smooth))).toEqual({ n: 0, max: 0 });
        const sharp = sharpness(resized, 20);
        if (step.sharp) expect(diff(sharp, load(step.sharp))).toEqual({ n: 0, max: 0 });
        if (step.greyMeanOfSharp !== undefined) expect(greyMean(sharp)).toBeCloseTo(step.greyMeanOfSharp, 9);
        if (step.enhanced) {
          const chain = enhanceLowLevel(input, { size: w, sharpness: 20, contrast: 1.5 });
          expect(diff(chain, load(step.enhanced))).toEqual({ n: 0, max: 0 });
          expect(diff(contrast(sharp, 1.5), chain)).toEqual({ n: 0, max: 0 });
        }
      });
    }
    it(`${c.name}: bicubic resize equals PIL exactly`, () => {
      for (const ref of c.bicubic) expect(diff(resizePil(input, ref.width, ref.height, 'bicubic'), load(ref))).toEqual({ n: 0, max: 0 });
    });
    it(`${c.name}: contrast inside [0, 1] (interpolation path)`, () => {
      expect(diff(contrast(input, 0.4), load(c.contrast04))).toEqual({ n: 0, max: 0 });
    });
  }

  it('keeps border pixels in the SMOOTH filter and smooths the inside', () => {
    const img: RgbImage = { width: 4, height: 3, data: new Uint8Array(36) };
    img.data[(1 * 4 + 1) * 3] = 130; // one bright red pixel inside
    const out = smoothFilter(img);
    expect(out.data[(1 * 4 + 1) * 3]).toBe(Math.trunc(0.5 + (130 * 5) / 13)); // 50
    expect(out.data[(1 * 4 + 2) * 3]).toBe(Math.trunc(0.5 + 130 / 13)); // 10
    expect(out.data[0]).toBe(0);
  });

  it('rejects malformed images with a named field', () => {
    expect(() => resizeLanczos({ width: 2, height: 2, data: new Uint8Array(5) }, 4, 4)).toThrow(/data/);
  });
});
