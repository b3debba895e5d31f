// A tiny but complete bundle written with the real BundleWriter into a temp folder, used by the
// bundle tests. Every dtype appears; values are simple formulas the tests recompute.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeAtomically } from '../../../src/node/atomic.ts';
import type { Manifest } from '../../../src/core/bundle/manifest.ts';
import { BundleWriter } from '../../../src/core/bundle/writer.ts';

export const V = 12; // voxels
export const RANK = 2;
export const OUT = [2, 3];

export const values = {
  f32: Float32Array.from({ length: 24 }, (_, i) => i * 0.5 - 3),
  f16: [0, 1, -2, 0.5, 65504, -65504, 2 ** -24, 0.1, 3.140625, -0], // float16-exact except 0.1
  u8: Uint8Array.from({ length: 18 }, (_, i) => (i * 37) % 256),
  i32: Int32Array.from([-2147483648, -1, 0, 1, 2147483647, 42]),
  u32: Uint32Array.from([0, 1, 4294967295, 123456789]),
  beta: (trial: number, v: number) => Math.round((trial - v * 0.25) * 64) / 64, // float16-exact
};

const made: string[] = [];

/** Removes every temp folder writeTinyBundle made (call from afterAll). */
export function removeTinyBundles(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

export async function writeTinyBundle(dir?: string): Promise<{ dir: string; manifest: Manifest }> {
  let out = dir;
  if (!out) {
    const parent = mkdtempSync(join(tmpdir(), 'mirage-bundle-'));
    made.push(parent);
    out = join(parent, 'tiny');
  }
  const manifest = await writeAtomically(out, async (sink) => {
    const w = new BundleWriter(sink);
    const misc = 'misc/tensors.bin';
    const f32 = w.addTensor(misc, values.f32, 'float32', [4, 6]);
    const u8 = w.addTensor(misc, values.u8, 'uint8', [18]);
    const f16 = w.addTensor(misc, values.f16, 'float16', [10]);
    const i32 = w.addTensor(misc, values.i32, 'int32', [2, 3]);
    const u32 = w.addTensor(misc, values.u32, 'uint32', [4]);
    const img = w.addTensor('stimuli/images.bin', new Uint8Array(4 * 4 * 3).fill(7), 'uint8', [4, 4, 3]);
    const roi = w.addTensor('subj01/rois.bin', Int32Array.from([0, 3, 11]), 'int32', [3]);
    // One hemisphere: a square of 4 vertices, 2 triangles; voxel v -> (lh, v % 4), the last voxel unmapped.
    const faces = w.addTensor('subj01/lh.bin', Int32Array.from([0, 1, 2, 0, 2, 3]), 'int32', [2, 3]);
    const folded = w.addTensor(
      'subj01/lh.bin',
      Float32Array.from([0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0]),
      'float32',
      [4, 3],
    );
    const v2v = Int32Array.from({ length: V * 2 }, (_, i) => (i % 2 === 0 ? 0 : ((i - 1) / 2) % 4));
    v2v[2 * V - 2] = -1;
    v2v[2 * V - 1] = -1;
    const voxelToVertex = w.addTensor('subj01/lh.bin', v2v, 'int32', [V, 2]);
    const A = w.addTensor(
      'subj01/heads/image.bin',
      Float32Array.from({ length: V * RANK }, (_, i) => i / 10),
      'float16',
      [V, RANK],
    );
    const B = w.addTensor(
      'subj01/heads/image.bin',
      Float32Array.from({ length: RANK * 6 }, (_, i) => i),
      'float16',
      [RANK, 6],
    );
    const intercept = w.addTensor('subj01/heads/image.bin', new Float32Array(6).fill(1), 'float32', [6]);
    const trials: Manifest['trials'] = [];
    for (let t = 0; t < 4; t++) {
      const betas = Float32Array.from({ length: V }, (_, v) => values.beta(t, v));
      const ref = w.addTensor('subj01/betas.bin', betas, 'float16', [V]);
      trials.push({
        subject: 1,
        run: t < 2 ? 'visA' : 'imgA_1',
        stimulus: 0,
        condition: t < 2 ? 'vision' : 'imagery',
        repeat: t % 2,
        betas: { shard: ref.shard, offset: ref.offset },
      });
    }
    const feats = w.addTensor('features.bin', new Float32Array(6), 'float32', [1, 6]);
    return w.finish({
      name: 'tiny test bundle',
      provenance: {
        kind: 'simulated',
        command: 'test/unit/bundle/tinyBundle.ts',
        createdAt: '2026-01-01T00:00:00Z',
        generator: { name: 'mirage-explorer tests', version: '0' },
        sources: [],
      },
      imageSize: 4,
      subjects: [
        {
          id: 1,
          label: 'subj01',
          role: 'decoded',
          voxelCount: V,
          betaDtype: 'float16',
          voxelToVertex,
          surfaces: [{ hemi: 'lh', vertexCount: 4, faces, shapes: { folded } }],
          rois: [{ name: 'V1', color: '#ff0000', group: 'early', voxels: roi }],
          heads: [
            {
              name: 'image',
              role: 'test head',
              outputShape: OUT,
              rank: RANK,
              A,
              B,
              intercept,
              inputNorm: 'none',
              outputNorm: 'none',
              penalty: 1,
              fidelity: { r2: 1, trials: 0 },
            },
          ],
        },
      ],
      stimuli: [{ id: 0, name: 'bar', set: 'simple', cue: 'A', caption: 'a bar', image: img }],
      trials,
      features: [{ name: 'stimuli', head: 'image', values: feats, ids: [0] }],
      extensions: { test: { f32, u8, f16, i32, u32 } },
    });
  });
  return { dir: out, manifest };
}

/** Edits manifest.json in place (for bad-manifest tests: they write deliberately ill-typed values). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function editManifest(dir: string, edit: (m: any) => void): void {
  const file = join(dir, 'manifest.json');
  const m = JSON.parse(readFileSync(file, 'utf8'));
  edit(m);
  writeFileSync(file, JSON.stringify(m));
}

/** Flips one byte of a file. */
export function flipByte(file: string, at = 0): void {
  const b = readFileSync(file);
  b[at] ^= 0xff;
  writeFileSync(file, b);
}
