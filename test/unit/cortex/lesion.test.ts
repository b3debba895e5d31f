import { describe, expect, it } from 'vitest';
import { LinearChangeEngine, cosine } from '../../../src/core/cortex/engine.ts';
import { lesionProfile } from '../../../src/core/cortex/lesion.ts';
import { fullDecode, makeHead, randn, rng } from './helpers.ts';

describe('lesion profile', () => {
  it('averages per ROI, head and condition the change of silencing each ROI', () => {
    const r = rng(5);
    const n = 60;
    const image = makeHead('image', n, 4, [12], r);
    const engine = new LinearChangeEngine([image], n);
    const all = { name: 'all', color: '#ffffff', group: 'other' as const, source: 'user' as const, voxels: Int32Array.from({ length: n }, (_, i) => i) };
    const half = { ...all, name: 'half', voxels: Int32Array.from({ length: 30 }, (_, i) => i) };
    const trials = [
      { condition: 'vision' as const, betas: randn(n, r) },
      { condition: 'vision' as const, betas: randn(n, r) },
      { condition: 'imagery' as const, betas: randn(n, r, 0.3) },
    ];
    const cells = lesionProfile(engine, [all, half], ['image'], trials);
    expect(cells).toHaveLength(4);
    const get = (roi: string, c: string) => cells.find((x) => x.roi === roi && x.condition === c)!;
    // Silencing everything leaves the intercept: check against the definition, trial by trial.
    const expectRel = (t: (typeof trials)[number]) => {
      const p = fullDecode(image, t.betas);
      let d = 0;
      let pp = 0;
      for (let j = 0; j < p.length; j++) {
        d += (p[j] - image.intercept[j]) ** 2;
        pp += p[j] ** 2;
      }
      return { rel: Math.sqrt(d / pp), cos: 1 - cosine(p, image.intercept) };
    };
    const v = [expectRel(trials[0]), expectRel(trials[1])];
    expect(get('all', 'vision').trials).toBe(2);
    expect(get('all', 'vision').relNorm).toBeCloseTo((v[0].rel + v[1].rel) / 2, 5);
    expect(get('all', 'vision').cosineChange).toBeCloseTo((v[0].cos + v[1].cos) / 2, 5);
    expect(get('all', 'imagery').relNorm).toBeCloseTo(expectRel(trials[2]).rel, 5);
    expect(get('half', 'vision').relNorm).toBeGreaterThan(0);
    expect(get('half', 'vision').relNorm).not.toBeCloseTo(get('all', 'vision').relNorm, 3);
  });
});
