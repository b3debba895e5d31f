import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AbortError } from '../../../src/core/base/errors.ts';
import { runDecode } from '../../../src/node/decodeRun.ts';
import { writeAtomically } from '../../../src/node/atomic.ts';
import type { Head, Trial } from '../../../src/core/bundle/manifest.ts';
import { BundleWriter } from '../../../src/core/bundle/writer.ts';
import { addHead } from '../../../src/core/decode/headBuilder.ts';
import { predictHead, type LoadedHead } from '../../../src/core/decode/predict.ts';
import { reduceRank } from '../../../src/core/decode/reducedRank.ts';
import { RidgePath } from '../../../src/core/decode/ridge.ts';
import { decodeFloat16, encodeFloat16 } from '../../../src/core/tensor/float16.ts';
import { matrix } from '../../../src/core/tensor/matrix.ts';
import { readNpy } from '../../../src/core/tensor/npy.ts';

const P = 40; // voxels
const STIMULI = 3;
let dir: string;
let head: Head;
let loaded: LoadedHead;
const betasByTrial: Float32Array[] = [];
const trials: Trial[] = [];

function rng(seed: number) {
  return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mirage-decode-'));
  const rand = rng(17);
  // A small ridge head fitted on random data, as the demo builder would.
  const X = matrix(60, P, Float32Array.from({ length: 60 * P }, rand));
  const Y = matrix(60, 6, Float32Array.from({ length: 60 * 6 }, rand));
  const sol = new RidgePath(X, Y).solve(5);
  const red = reduceRank(sol, 4);
  await writeAtomically(join(dir, 'bundle'), async (sink) => {
    const w = new BundleWriter(sink);
    head = addHead(w, 1, {
      name: 'text', role: 'test tokens', outputShape: [2, 3], A: red.A, B: red.B, intercept: red.intercept,
      targetMean: Float32Array.from([1, 2, 3, 4, 5, 6]), targetStd: Float32Array.from([1, 1, 2, 2, 3, 3]),
      outputNorm: 'none', penalty: 5, fidelity: { r2: red.fidelityR2, trials: 0 },
    });
    // Trials: per stimulus 2 vision and 3 imagery repeats, interleaved as runs would be.
    for (const [condition, run, reps] of [['vision', 'visA', 2], ['imagery', 'imgA_1', 3]] as const) {
      for (let rep = 0; rep < reps; rep++) {
        for (let s = 0; s < STIMULI; s++) {
          const b = Float32Array.from({ length: P }, rand);
          betasByTrial.push(decodeFloat16(encodeFloat16(b)));
          const ref = w.addTensor('subj01/betas.bin', b, 'float16', [P]);
          trials.push({ subject: 1, run, stimulus: s, condition, repeat: rep, betas: { shard: ref.shard, offset: ref.offset } });
        }
      }
    }
    await w.finish({
      name: 'decode test', provenance: { kind: 'simulated', command: 'test', createdAt: new Date(0).toISOString(), generator: { name: 'test', version: '0' }, sources: [] },
      imageSize: 8,
      subjects: [{ id: 1, label: 'subj01', role: 'decoded', voxelCount: P, betaDtype: 'float16', surfaces: [], rois: [], heads: [head] }],
      stimuli: Array.from({ length: STIMULI }, (_, id) => ({ id, name: `s${id}`, set: 'simple' as const, cue: 'ABC'[id], caption: 'x' })),
      trials,
      features: [],
    });
  });
  loaded = {
    spec: head,
    A: decodeFloat16(encodeFloat16(red.A.data)),
    B: decodeFloat16(encodeFloat16(red.B.data)),
    intercept: Float32Array.from(red.intercept),
  };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const npy = (f: string) => readNpy(new Uint8Array(readFileSync(f)), f);

describe('mirage decode', () => {
  it('writes one row per trial in manifest order, equal to the reference decoder', async () => {
    const out = join(dir, 'single');
    await runDecode({ bundle: join(dir, 'bundle'), subject: 1, backends: ['cpu'], out, quiet: true });
    const a = npy(join(out, 'text.npy'));
    expect(a.shape).toEqual([trials.length, 2, 3]);
    const meta = JSON.parse(readFileSync(join(out, 'decode.json'), 'utf8'));
    expect(meta.backend).toBe('cpu');
    expect(meta.rows.map((r: { trials: number[] }) => r.trials[0])).toEqual(trials.map((_, i) => i));
    const want = predictHead(loaded, Float32Array.from(betasByTrial.flatMap((b) => [...b])), trials.length);
    (a.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(want[i], 4));
  });

  it('--average --normalize: one row per stimulus x condition, normalised per condition batch', async () => {
    const out = join(dir, 'avg');
    await runDecode({ bundle: join(dir, 'bundle'), subject: 1, backends: ['js'], average: true, normalize: true, out, quiet: true });
    const a = npy(join(out, 'text.npy'));
    expect(a.shape).toEqual([STIMULI * 2, 2, 3]);
    const meta = JSON.parse(readFileSync(join(out, 'decode.json'), 'utf8'));
    expect(meta.rows.map((r: { stimulus: number; condition: string }) => `${r.stimulus}${r.condition[0]}`)).toEqual(['0v', '0i', '1v', '1i', '2v', '2i']);
    expect(meta.rows[1].trials).toHaveLength(3);
    const norm = meta.heads.text.normalization;
    expect(norm.map((n: { condition: string; size: number }) => [n.condition, n.size])).toEqual([['vision', 3], ['imagery', 3]]);
    expect(norm[1].label).toMatch(/^3 stimuli × imagery, subject 1, repeats averaged \(3 per stimulus\)$/);
    // Averaging betas then decoding = the reference on the mean betas.
    const mean = new Float32Array(P);
    for (const t of meta.rows[1].trials as number[]) for (let j = 0; j < P; j++) mean[j] += betasByTrial[t][j] / 3;
    const raw = predictHead(loaded, mean, 1);
    // After normalisation each output's mean over a condition's batch is the training-target mean.
    const v = a.data as Float32Array;
    for (let o = 0; o < 6; o++) {
      const m = (v[1 * 6 + o] + v[3 * 6 + o] + v[5 * 6 + o]) / 3;
      expect(m).toBeCloseTo(o + 1, 4);
    }
    const plainOut = join(dir, 'avg-raw');
    await runDecode({ bundle: join(dir, 'bundle'), subject: 1, backends: ['js'], average: true, out: plainOut, quiet: true });
    const plain = npy(join(plainOut, 'text.npy')).data as Float32Array;
    raw.forEach((x, o) => expect(plain[1 * 6 + o]).toBeCloseTo(x, 5));
  });

  it('--normalize on a head without training-target statistics: writes it raw and says why (file and stderr)', async () => {
    const nostats = join(dir, 'nostats');
    cpSync(join(dir, 'bundle'), nostats, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(nostats, 'manifest.json'), 'utf8'));
    delete manifest.subjects[0].heads[0].targetMean;
    writeFileSync(join(nostats, 'manifest.json'), JSON.stringify(manifest));
    const said: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (said.push(String(chunk)), true));
    try {
      await runDecode({ bundle: nostats, subject: 1, backends: ['js'], average: true, normalize: true, out: join(dir, 'nostats-norm'), quiet: true });
    } finally {
      spy.mockRestore();
    }
    await runDecode({ bundle: nostats, subject: 1, backends: ['js'], average: true, out: join(dir, 'nostats-raw'), quiet: true });
    const normed = readFileSync(join(dir, 'nostats-norm', 'text.npy'));
    expect(normed.equals(readFileSync(join(dir, 'nostats-raw', 'text.npy')))).toBe(true);
    const meta = JSON.parse(readFileSync(join(dir, 'nostats-norm', 'decode.json'), 'utf8'));
    expect(meta.heads.text.normalization.map((n: { condition: string; missing?: string }) => [n.condition, n.missing])).toEqual([
      ['vision', 'head "text" of subject 1 has no training-target targetMean in manifest.json: decoded raw, not normalised'],
      ['imagery', 'head "text" of subject 1 has no training-target targetMean in manifest.json: decoded raw, not normalised'],
    ]);
    expect(said.join('')).toMatch(/decode: imagery: head "text" of subject 1 has no training-target targetMean/);
  });

  it('names a missing head and a missing subject', async () => {
    await expect(runDecode({ bundle: join(dir, 'bundle'), subject: 1, heads: ['image'], backends: ['js'], out: join(dir, 'x'), quiet: true })).rejects.toThrow(/no "image" head/);
    await expect(runDecode({ bundle: join(dir, 'bundle'), subject: 3, backends: ['js'], out: join(dir, 'x'), quiet: true })).rejects.toThrow(/no subject 3/);
  });

  it('asks for the Ctrl-C signal once the backend has started; an aborted run writes nothing', async () => {
    const out = join(dir, 'aborted');
    const ctl = new AbortController();
    let asked = 0;
    ctl.abort();
    await expect(
      runDecode({ bundle: join(dir, 'bundle'), subject: 1, backends: ['js'], out, quiet: true, interruptible: () => (asked++, ctl.signal) }),
    ).rejects.toBeInstanceOf(AbortError);
    expect(asked).toBe(1);
    expect(existsSync(out)).toBe(false);
  });
});
