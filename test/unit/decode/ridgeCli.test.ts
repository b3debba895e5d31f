import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HeadSchema } from '../../../src/core/bundle/manifest.ts';
import { sha256Hex } from '../../../src/core/bundle/sha256.ts';
import type { RidgeHeadOptions } from '../../../src/core/decode/ridgeHead.ts';
import { readNpy, writeNpy } from '../../../src/core/tensor/npy.ts';
import { maxRelativeError } from '../../../src/core/tensor/vector.ts';
import { readMatrixNpy, runRidgeFit } from '../../../src/node/ridgeFiles.ts';

// `mirage ridge fit` is flags (cli/commands/ridge.ts) -> runRidgeFit (src/node/ridgeFiles.ts: the
// files around fitRidgeHead of core). The fits run in-process; what only the command checks runs
// through bin/mirage.js.
const ROOT = resolve(import.meta.dirname, '../../..');
const FIX = join(ROOT, 'test/fixtures/ridge');
const dir = mkdtempSync(join(tmpdir(), 'mirage-ridge-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const npy = (f: string) => readNpy(new Uint8Array(readFileSync(f)), f);

const options = (c: string, extra: Partial<RidgeHeadOptions>): RidgeHeadOptions => ({
  betasName: join(FIX, c, 'X.npy'),
  targetsName: join(FIX, c, 'Y.npy'),
  valFrac: 0.2,
  rank: 2,
  name: 'image',
  subject: 2,
  inputNorm: 'none',
  outputNorm: 'none',
  ...extra,
});

/** What the command does after parsing its flags, into the test's folder. */
async function ridgeFit(o: RidgeHeadOptions, out: string): Promise<void> {
  await runRidgeFit(o, join(dir, out));
}

function mirage(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/mirage.js'), ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

describe('mirage ridge fit', () => {
  it('--alpha: coef.npy and intercept.npy equal sklearn; writes a valid head with its shard hash', async () => {
    await ridgeFit(options('wide', { alpha: 10 }), 'a');
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
    await ridgeFit(options('tall', { alphas: [0.01, 1, 100, 100000] }), 'b');
    const fit = JSON.parse(readFileSync(join(dir, 'b/fit.json'), 'utf8'));
    expect(fit.grid.alphas).toEqual([0.01, 1, 100, 100000]);
    expect(fit.grid.valTrials).toBe(24);
    const best = fit.grid.scores.indexOf(Math.max(...fit.grid.scores));
    expect(fit.alpha).toBe(fit.grid.alphas[best]);
    expect(fit.alpha).not.toBe(100000); // an absurd penalty never wins on this problem
  });

  it('names the file and field of bad input', async () => {
    await expect(ridgeFit(options('wide', { targetsName: join(FIX, 'tall/Y.npy'), alpha: 1 }), 'c')).rejects.toThrow(
      /Y\.npy.*header\.shape\[0\].*30 trials/,
    );
    await expect(ridgeFit(options('wide', {}), 'c')).rejects.toThrow(/no penalty given/);
    await expect(ridgeFit(options('wide', { alpha: 1, outputShape: [2, 2] }), 'c')).rejects.toThrow(/output shape 2,2 has 4 values.*5/);
    expect(existsSync(join(dir, 'c'))).toBe(false);
  });

  it('refuses NaN/Inf in its .npy inputs, naming the file, the tensor and the first bad element', async () => {
    const data = new Float32Array(12).fill(1);
    data[1 * 4 + 2] = Number.POSITIVE_INFINITY;
    const bad = join(dir, 'bad_betas.npy');
    writeFileSync(bad, writeNpy(data, [3, 4], '<f4'));
    await expect(readMatrixNpy(bad, 'betas')).rejects.toThrow(/bad_betas\.npy: betas: non-finite value \(Infinity\) at element \(1, 2\); refused/);
  });

  it('the command refuses missing or inconsistent flags by name, and writes nothing', () => {
    const flags = ['ridge', 'fit', '--betas', join(FIX, 'wide/X.npy'), '--targets', join(FIX, 'wide/Y.npy'), '--rank', '2', '--out', join(dir, 'd')];
    const noPenalty = mirage(flags);
    expect(noPenalty.status).not.toBe(0);
    expect(noPenalty.stderr).toMatch(/--alpha A or --alphas/);
    const badShape = mirage([...flags, '--alpha', '1', '--output-shape', '2,2']);
    expect(badShape.status).not.toBe(0);
    expect(badShape.stderr).toMatch(/output shape 2,2 has 4 values/);
    expect(existsSync(join(dir, 'd'))).toBe(false);
  });
});
