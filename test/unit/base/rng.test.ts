// The one seeded RNG: the number streams every caller relies on are pinned here (recorded from the
// three separate implementations this file replaced), so a change to a generator fails loudly
// instead of silently shifting demo bundles, reconstruction noise or evaluation draws.
import { describe, expect, it } from 'vitest';
import { batchNoise, mulberry32, mulberry32Words, NoiseRng, Rng, sampleWithoutReplacement, streamFor } from '../../../src/core/base/rng.ts';

describe('base/rng', () => {
  it('Rng (simulation, mulberry32 + Box–Muller + fork) keeps its recorded stream', () => {
    const r = new Rng(1);
    expect([r.next(), r.normal(), r.normal(), r.fork('a').next()]).toEqual([0.6270739405881613, -3.3845480722173837, -0.5895377267920415, 0.024478571955114603]);
  });

  it('NoiseRng (reconstruction noise, xoshiro128**) and batchNoise keep their recorded streams', () => {
    const q = new NoiseRng(1, 0, 0);
    expect([q.nextU32(), q.normal(), q.normal()]).toEqual([2448367284, -1.6034602912173006, 0.4987053976435553]);
    expect(Array.from(batchNoise(2, 2, 2, 'latent'))).toEqual([-2.394146203994751, -0.19432297348976135, -0.5488467812538147, -0.4011613428592682]);
  });

  it('batchNoise row k does not depend on the batch size', () => {
    const big = batchNoise(9, 5, 13, 's');
    const small = batchNoise(9, 2, 13, 's');
    expect(Array.from(big.subarray(0, 26))).toEqual(Array.from(small));
    expect(Array.from(batchNoise(9, 1, 13, 't'))).not.toEqual(Array.from(small.subarray(0, 13)));
  });

  it('mulberry32 keeps its recorded stream and is Rng.next and the words / 2^32', () => {
    const z = mulberry32(7);
    expect([z(), z(), z()]).toEqual([0.011704753153026104, 0.06195825757458806, 0.97690763277933]);
    const a = mulberry32(123);
    const w = mulberry32Words(123);
    const r = new Rng(123);
    for (let i = 0; i < 100; i++) {
      const x = a();
      expect(r.next()).toBe(x);
      expect(w() / 4294967296).toBe(x);
    }
  });

  it('streamFor gives independent, reproducible streams per label', () => {
    expect(streamFor(5, 'x').normals(4)).toEqual(streamFor(5, 'x').normals(4));
    expect(streamFor(5, 'x').next()).not.toBe(streamFor(5, 'y').next());
  });

  it('sampleWithoutReplacement draws k distinct indices and refuses k > n', () => {
    const s = sampleWithoutReplacement(10, 10, mulberry32(3));
    expect([...s].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(() => sampleWithoutReplacement(3, 4, mulberry32(3))).toThrow(/cannot draw 4 of 3/);
  });
});
