// A small SIMULATED bundle whose decoding is known by construction, for the front door's tests and
// the example's: stimulus s lights up its own block of voxels, and the image head maps block s to
// the stimulus's true features F[s] (also stored as the "stimuli" feature set). Vision trials show
// each stimulus's own block; imagery trials show the NEXT stimulus's block, so imagery decodes
// stimulus s to F[s+1].
import type { Stimulus, Trial } from '../../../src/core/bundle/manifest.ts';
import { BundleWriter, type ShardSink } from '../../../src/core/bundle/writer.ts';
import { addHead } from '../../../src/core/decode/headBuilder.ts';
import { decodeFloat16, encodeFloat16 } from '../../../src/core/tensor/float16.ts';
import { matrix } from '../../../src/core/tensor/matrix.ts';

export const S = 6; // stimuli
const BLOCK = 5; // voxels per stimulus
export const P = S * BLOCK;
export const Q = 8; // image-head outputs

function block(s: number): Float32Array {
  const x = new Float32Array(P);
  x.fill(1, s * BLOCK, (s + 1) * BLOCK);
  return x;
}

/** Writes the bundle through `sink`; returns the true features F (as float16 stores them). */
export async function writeKnownBundle(sink: ShardSink, opts: { features?: boolean } = {}): Promise<number[][]> {
  let seed = 11;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
  const F = Array.from({ length: S }, () => Array.from(decodeFloat16(encodeFloat16(Float32Array.from({ length: Q }, rand)))));
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
      for (const [condition, run, x] of [['vision', 'visA', block(s)], ['imagery', `imgA_${r + 1}`, block((s + 1) % S)]] as const) {
        const ref = w.addTensor('subj01/betas.bin', x, 'float32', [P]);
        trials.push({ subject: 1, run, stimulus: s, condition, repeat: r, betas: { shard: ref.shard, offset: ref.offset } });
      }
    }
  }
  const stimuli: Stimulus[] = Array.from({ length: S }, (_, id) => ({ id, name: `s${id}`, set: 'simple', cue: 'ABCDEF'[id], caption: `stimulus ${id}` }));
  const features = opts.features === false ? [] : [{ name: 'stimuli', head: 'image' as const, values: w.addTensor('features/stimuli.bin', Float32Array.from(F.flat()), 'float32', [S, Q]), ids: stimuli.map((s) => s.id) }];
  await w.finish({
    name: 'example test bundle',
    provenance: { kind: 'simulated', command: 'test/unit/api/knownBundle.ts', createdAt: new Date(0).toISOString(), generator: { name: 'test', version: '0' }, sources: [] },
    imageSize: 8,
    subjects: [{ id: 1, label: 'subj01', role: 'decoded', voxelCount: P, betaDtype: 'float32', surfaces: [], rois: [], heads: [head] }],
    stimuli,
    trials,
    features,
  });
  return F;
}

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

/** Two-way identification (chance 0.5) of imagery's decodes F[s+1] against F, counted from F alone. */
export function expectedImageryIdentification(F: number[][]): number[] {
  return F.map((f, i) => {
    const rec = F[(i + 1) % S];
    const own = pearson(f, rec);
    return F.filter((g) => pearson(g, rec) < own).length / (S - 1);
  });
}
