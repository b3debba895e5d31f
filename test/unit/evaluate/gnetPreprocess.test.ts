import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { preprocessForEncoding, type EncodingPreprocess } from '../../../src/core/evaluate/encodingPack.ts';
import { fromUint8 } from '../../../src/core/evaluate/image.ts';

// test/fixtures/gen/evaluate_gnet_preprocess.py: Pillow's Image.resize((227, 227), Image.LANCZOS)
const fx = JSON.parse(
  readFileSync(new URL('../../fixtures/evaluate/gnet_preprocess.json', import.meta.url), 'utf8'),
) as {
  size: number;
  cases: { height: number; width: number; input: string; lanczos: string }[];
};
const bytes = (b64: string) => Uint8Array.from(Buffer.from(b64, 'base64'));

const gnet = (resample: EncodingPreprocess['resample']): EncodingPreprocess => ({
  height: fx.size,
  width: fx.size,
  antialias: true,
  resample,
  quantize: true,
  mean: [0, 0, 0],
  std: [1, 1, 1],
});

describe('GNet preprocessing (resample "pil-lanczos")', () => {
  it.each(fx.cases.map((c, i) => [i, c] as const))(
    'case %i equals Pillow LANCZOS / 255 exactly, in CHW order',
    (_, c) => {
      const chw = preprocessForEncoding(fromUint8(bytes(c.input), c.width, c.height, 3), gnet('pil-lanczos'));
      const want = bytes(c.lanczos); // HWC uint8
      const n = fx.size * fx.size;
      let worst = 0;
      for (let i = 0; i < n; i++)
        for (let ch = 0; ch < 3; ch++) worst = Math.max(worst, Math.abs(chw[ch * n + i] * 255 - want[i * 3 + ch]));
      expect(worst).toBeLessThan(1e-3);
    },
  );

  it('differs from the bilinear path (the resampler is really switched)', () => {
    const c = fx.cases[0];
    const img = fromUint8(bytes(c.input), c.width, c.height, 3);
    const a = preprocessForEncoding(img, gnet('pil-lanczos'));
    const b = preprocessForEncoding(img, gnet('bilinear'));
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
    expect(diff).toBeGreaterThan(10 / 255);
  });
});
