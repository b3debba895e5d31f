// The runnable example (examples/decode-demo.ts) executed as a user would run it, on a small
// simulated bundle whose decoding is known by construction: it must go through the package's
// public entries ("mirage-explorer", "mirage-explorer/node") and print the right identification.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Stimulus, Trial } from '../../../src/core/bundle/manifest.ts';
import { BundleWriter } from '../../../src/core/bundle/writer.ts';
import { addHead } from '../../../src/core/decode/headBuilder.ts';
import { decodeFloat16, encodeFloat16 } from '../../../src/core/tensor/float16.ts';
import { matrix } from '../../../src/core/tensor/matrix.ts';
import { writeAtomically } from '../../../src/node/atomic.ts';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const S = 6; // stimuli
const BLOCK = 5; // voxels per stimulus
const P = S * BLOCK;
const Q = 8; // image-head outputs

let dir: string;
/** The true image features the bundle stores, as the float16 head reproduces them. */
let F: number[][];

/** Betas that light up the voxel block of stimulus `s` (the head maps them to F[s]). */
function block(s: number): Float32Array {
  const x = new Float32Array(P);
  x.fill(1, s * BLOCK, (s + 1) * BLOCK);
  return x;
}

beforeAll(async () => {
  dir = join(mkdtempSync(join(tmpdir(), 'mirage-example-')), 'bundle');
  let seed = 11;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
  // Features as float16 holds them, so the decoded rows equal the stored truth up to A's rounding.
  F = Array.from({ length: S }, () => Array.from(decodeFloat16(encodeFloat16(Float32Array.from({ length: Q }, rand)))));
  await writeAtomically(dir, async (sink) => {
    const w = new BundleWriter(sink);
    const A = matrix(P, S);
    for (let s = 0; s < S; s++) for (let v = s * BLOCK; v < (s + 1) * BLOCK; v++) A.data[v * S + s] = 1 / BLOCK;
    const B = matrix(S, Q, Float32Array.from(F.flat()));
    // Training-target statistics = the features' own: MIRAGE's normalisation of a batch that is a
    // permutation of F's rows gives back those rows.
    const mean = Float32Array.from({ length: Q }, (_, j) => F.reduce((a, f) => a + f[j], 0) / S);
    const std = Float32Array.from({ length: Q }, (_, j) => Math.sqrt(F.reduce((a, f) => a + (f[j] - mean[j]) ** 2, 0) / S));
    const head = addHead(w, 1, {
      name: 'image', role: 'test image embedding', outputShape: [Q], A, B, intercept: new Float32Array(Q),
      targetMean: mean, targetStd: std, outputNorm: 'none', penalty: 1, fidelity: { r2: 1, trials: 0 },
    });
    const trials: Trial[] = [];
    for (let s = 0; s < S; s++) {
      for (let r = 0; r < 2; r++) {
        // Vision: the seen stimulus's own block. Imagery: every stimulus lands on the next one's block.
        for (const [condition, run, x] of [['vision', 'visA', block(s)], ['imagery', `imgA_${r + 1}`, block((s + 1) % S)]] as const) {
          const ref = w.addTensor('subj01/betas.bin', x, 'float32', [P]);
          trials.push({ subject: 1, run, stimulus: s, condition, repeat: r, betas: { shard: ref.shard, offset: ref.offset } });
        }
      }
    }
    const stimuli: Stimulus[] = Array.from({ length: S }, (_, id) => ({ id, name: `s${id}`, set: 'simple', cue: 'ABCDEF'[id], caption: `stimulus ${id}` }));
    const features = w.addTensor('features/stimuli.bin', Float32Array.from(F.flat()), 'float32', [S, Q]);
    await w.finish({
      name: 'example test bundle',
      provenance: { kind: 'simulated', command: 'test/unit/node/example.test.ts', createdAt: new Date(0).toISOString(), generator: { name: 'test', version: '0' }, sources: [] },
      imageSize: 8,
      subjects: [{ id: 1, label: 'subj01', role: 'decoded', voxelCount: P, betaDtype: 'float32', surfaces: [], rois: [], heads: [head] }],
      stimuli,
      trials,
      features: [{ name: 'stimuli', head: 'image', values: features, ids: stimuli.map((s) => s.id) }],
    });
  });
}, 60_000);

function pearson(a: number[], b: number[]): number {
  const ma = a.reduce((x, y) => x + y, 0) / a.length;
  const mb = b.reduce((x, y) => x + y, 0) / b.length;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

describe('examples/decode-demo.ts', () => {
  it('opens the folder, decodes both conditions and prints two-way identification', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'examples/decode-demo.ts', dir, '1'], { cwd: ROOT });
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('example test bundle (SIMULATED data): subject 1');
    const pct = (condition: string) => {
      const m = new RegExp(`^${condition}: image head, two-way identification ([\\d.]+)% \\(${S} stimuli, chance 50%; backend (\\w+); normalised over ${S} stimuli × ${condition}, subject 1, repeats averaged \\(2 per stimulus\\)\\)$`).exec(lines.find((l) => l.startsWith(`${condition}:`)) ?? '');
      expect(m, `${condition} line in:\n${stdout}`).not.toBeNull();
      return Number(m![1]);
    };
    // Vision decodes every stimulus to its own features: each beats all the others.
    expect(pct('vision')).toBe(100);
    // Imagery decodes stimulus s to F[s+1]: the expected score, counted here from the features alone.
    let sum = 0;
    for (let i = 0; i < S; i++) {
      const rec = F[(i + 1) % S];
      const own = pearson(F[i], rec);
      let wins = 0;
      for (let j = 0; j < S; j++) if (pearson(F[j], rec) < own) wins++;
      sum += wins / (S - 1);
    }
    expect(pct('imagery')).toBeCloseTo((100 * sum) / S, 1);
    expect(pct('imagery')).toBeLessThan(100);
  }, 120_000);
});
