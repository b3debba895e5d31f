import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ridgeFit, type FitOptions } from '../../../cli/commands/ridge.ts';
import { HeadSchema } from '../../../src/core/bundle/manifest.ts';
import { sha256Hex } from '../../../src/core/bundle/sha256.ts';
import { readNpy } from '../../../src/core/tensor/npy.ts';
import { maxRelativeError } from '../../../src/core/tensor/vector.ts';

const FIX = join(import.meta.dirname, '../../fixtures/ridge');
const dir = mkdtempSync(join(tmpdir(), 'mirage-ridge-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const npy = (f: string) => readNpy(new Uint8Array(readFileSync(f)), f);
const base = (c: string, out: string): FitOptions => ({
  betas: join(FIX, c, 'X.npy'),
  targets: join(FIX, c, 'Y.npy'),
  valFrac: '0.2',
  out: join(dir, out),
  rank: '2',
  name: 'image',
  subject: '2',
  inputNorm: 'none',
  outputNorm: 'none',
});
const quiet = () => {};

describe('mirage ridge fit', () => {
  it('--alpha: coef.npy and intercept.npy equal sklearn; writes a valid head with its shard hash', async () => {
    await ridgeFit({ ...base('wide', 'a'), alpha: '10' }, quiet);
    const coef = npy(join(dir, 'a/coef.npy'));
    expect(coef.dtype).toBe('<f8');
    expect(coef.shape).toEqual([5, 80]);
    expect(
      maxRelativeError(coef.data as Float64Array, npy(join(FIX, 'wide/coef_1.npy')).data as Float64Array),
    ).toBeLessThan(1e-5);
    expect(
      maxRelativeError(
        npy(join(dir, 'a/intercept.npy')).data as Float64Array,
        npy(join(FIX, 'wide/intercept_1.npy')).data as Float64Array,
      ),
    ).toBeLessThan(1e-5);
    const h = JSON.parse(readFileSync(join(dir, 'a/head/head.json'), 'utf8'));
    HeadSchema.parse(h.head);
    expect(h.subject).toBe(2);
    expect(h.head.A.shard).toBe('subj02/heads/image.bin');
    expect(h.head.rank).toBe(2);
    expect(h.head.fidelity.trials).toBe(6);
    const shard = new Uint8Array(readFileSync(join(dir, 'a/head', h.shards[0].path)));
    expect(h.shards[0].sha256).toBe(await sha256Hex(shard));
  });

  it('--alphas: chooses the penalty with the best held-out R² and records the grid', async () => {
    await ridgeFit({ ...base('tall', 'b'), alphas: '0.01,1,100,100000' }, quiet);
    const fit = JSON.parse(readFileSync(join(dir, 'b/fit.json'), 'utf8'));
    expect(fit.grid.alphas).toEqual([0.01, 1, 100, 100000]);
    expect(fit.grid.valTrials).toBe(24);
    const best = fit.grid.scores.indexOf(Math.max(...fit.grid.scores));
    expect(fit.alpha).toBe(fit.grid.alphas[best]);
    expect(fit.alpha).not.toBe(100000); // an absurd penalty never wins on this problem
  });

  it('names the file and field of bad input', async () => {
    await expect(
      ridgeFit({ ...base('wide', 'c'), targets: join(FIX, 'tall/Y.npy'), alpha: '1' }, quiet),
    ).rejects.toThrow(/Y\.npy.*header\.shape\[0\].*30 trials/);
    await expect(ridgeFit({ ...base('wide', 'c') }, quiet)).rejects.toThrow(/--alpha A or --alphas/);
    await expect(ridgeFit({ ...base('wide', 'c'), alpha: '1', outputShape: '2,2' }, quiet)).rejects.toThrow(
      /output-shape/,
    );
  });
});
