import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/core/bundle/memoryStore.ts';
import { encodingPackScorer, type BrainBundle } from '../../../src/core/evaluate/brainModel.ts';
import { bundleEncodingPacks } from '../../../src/core/evaluate/bundleEval.ts';
import {
  ENCODING_PACK_MANIFEST,
  buildStandInEncodingPack,
  checkEncodingPackForBundle,
  encodingPackCorrelations,
  encodingPackSets,
  loadEncodingPack,
  predictBetas,
  type LoadedEncodingPack,
} from '../../../src/core/evaluate/encodingPack.ts';
import type { FeatureRunner } from '../../../src/core/evaluate/featurePacks.ts';
import { fromUint8, type FloatImage } from '../../../src/core/evaluate/image.ts';
import { createSession, runFloat } from '../../../src/core/onnx/runtime.ts';
import { writeNpy } from '../../../src/core/tensor/npy.ts';
import { sha256Hex } from '../../../src/core/bundle/sha256.ts';

// test/fixtures/gen/evaluate_encoding.py: numpy/torch predictions and Pearson r of the stand-in graph
const fx = JSON.parse(readFileSync(new URL('../../fixtures/evaluate/encoding.json', import.meta.url), 'utf8')) as {
  seed: number;
  voxels: number;
  size: number;
  cases: { height: number; width: number; rgb: number[]; measured_f32_b64: string; pred_head: number[]; r: Record<'early' | 'higher' | 'all', number> }[];
};
const images: FloatImage[] = fx.cases.map((c) => fromUint8(Uint8Array.from(c.rgb), c.width, c.height, 3));
const measured = fx.cases.map((c) => new Float32Array(Uint8Array.from(Buffer.from(c.measured_f32_b64, 'base64')).buffer));

async function runner(pack: LoadedEncodingPack): Promise<FeatureRunner> {
  const s = await createSession(pack.onnx);
  const { input, output } = pack.manifest.model;
  return (data, dims) => runFloat(s, { [input.name]: { data, dims } }, output.name);
}

// one stand-in pack with its own ROI file, shared by the tests (building 15724 voxels takes a moment)
const built = (async () => {
  const mem = new MemoryStore('mem-pack');
  await buildStandInEncodingPack(mem, { seed: fx.seed, rois: 'pack' });
  const pack = await loadEncodingPack(mem);
  return { mem, pack, run: await runner(pack) };
})();

describe('encoding-model pack (stand-in at GNet shapes)', () => {
  it('predicts 15724 voxels from a 227x227 input and matches the numpy fixture', async () => {
    const { pack, run } = await built;
    expect(pack.manifest.voxelCount).toBe(15724);
    expect(pack.manifest.model.input.shape).toEqual(['batch', 3, 227, 227]);
    expect(fx.voxels).toBe(15724);
    const sets = encodingPackSets(pack, null);
    expect(sets.early.length + sets.higher.length).toBeLessThan(sets.all.length);
    for (const [n, img] of images.entries()) {
      const pred = await predictBetas(pack, run, img);
      expect(pred.length).toBe(15724);
      fx.cases[n].pred_head.forEach((p, i) => expect(Math.abs(pred[i] - p)).toBeLessThan(1e-5));
      const r = await encodingPackCorrelations(pack, run, img, measured[n], sets);
      for (const k of ['early', 'higher', 'all'] as const) expect(Math.abs(r[k] - fx.cases[n].r[k])).toBeLessThan(1e-6);
      expect(r.early).not.toBeCloseTo(r.higher, 3);
    }
  });

  it('scores a bundle: condition-averaged measured betas, ROIs from the bundle, other subjects NaN', async () => {
    const built0 = await built;
    // the same graph, with the ROIs taken from the bundle instead of the pack's file (rois.source "bundle")
    const pack: LoadedEncodingPack = { ...built0.pack, manifest: { ...built0.pack.manifest, rois: { source: 'bundle' } }, rois: null };
    const early = Int32Array.from({ length: 15724 }, (_, v) => v).filter((v) => v % 5 < 2);
    const higher = Int32Array.from({ length: 15724 }, (_, v) => v).filter((v) => v % 5 === 2 || v % 5 === 3);
    const refs = { early: { path: 'early' }, higher: { path: 'higher' } };
    // two repeats whose mean is the fixture's measured betas of image 1
    const m1 = measured[1];
    const a = m1.map((x, v) => x + (v % 2 ? 0.25 : -0.25));
    const b = m1.map((x, v) => x - (v % 2 ? 0.25 : -0.25));
    const bundle: BrainBundle = {
      manifest: {
        subjects: [
          { id: 1, voxelCount: 15724, rois: [{ name: 'V1', group: 'early', voxels: refs.early }, { name: 'LO', group: 'higher', voxels: refs.higher }] },
          { id: 2, voxelCount: 14278, rois: [] },
        ],
        trials: [
          { subject: 1, stimulus: 4, condition: 'imagery' },
          { subject: 1, stimulus: 4, condition: 'imagery' },
          { subject: 1, stimulus: 4, condition: 'vision' },
        ],
      } as unknown as BrainBundle['manifest'],
      tensor: async (ref) => (ref === (refs.early as unknown) ? early : higher),
      trialBetas: async (i) => [a, b, new Float32Array(15724)][i],
    };
    const scorer = await encodingPackScorer(bundle, [pack], async () => built0.run);
    expect(scorer.description).toContain('stand-in');
    const r = await scorer.score(1, 'imagery', 4, images[1]);
    for (const k of ['early', 'higher', 'all'] as const) expect(Math.abs(r[k] - fx.cases[1].r[k])).toBeLessThan(1e-6);
    const other = await scorer.score(2, 'imagery', 4, images[1]);
    expect(Number.isNaN(other.all)).toBe(true);
  });
});

describe('encoding packs next to a bundle', () => {
  it('finds encoding/subjNN/encodingpack.json for decoded subjects only', async () => {
    const mem = new MemoryStore('mem-pack');
    const under = (prefix: string) => ({ write: (p: string, b: Uint8Array) => mem.write(prefix + p, b) });
    await buildStandInEncodingPack(under('encoding/subj02/'), { subject: 2, voxelCount: 30, size: 16 });
    await buildStandInEncodingPack(under('encoding/subj03/'), { subject: 3, voxelCount: 30, size: 16 });
    const manifest = { subjects: [{ id: 1, role: 'decoded' }, { id: 2, role: 'decoded' }, { id: 3, role: 'tuning' }] } as unknown as BrainBundle['manifest'];
    const packs = await bundleEncodingPacks({ manifest, source: mem } as Parameters<typeof bundleEncodingPacks>[0]);
    expect(packs.map((p) => [p.manifest.subject, p.label])).toEqual([[2, 'mem-pack/encoding/subj02']]);
    mem.files.set('encoding/subj01/encodingpack.json', new TextEncoder().encode('<!doctype html><html></html>'));
    expect((await bundleEncodingPacks({ manifest, source: mem } as Parameters<typeof bundleEncodingPacks>[0])).length).toBe(1);
    mem.files.set('encoding/subj01/encodingpack.json', new TextEncoder().encode('{"format": "nope"}'));
    await expect(bundleEncodingPacks({ manifest, source: mem } as Parameters<typeof bundleEncodingPacks>[0])).rejects.toThrow(/mem-pack\/encoding\/subj01\/encodingpack\.json: format/);
  });
});

describe('bad encoding packs', () => {
  const manifestOf = async (mem: MemoryStore) => JSON.parse(new TextDecoder().decode(mem.files.get(ENCODING_PACK_MANIFEST)!));
  const put = (mem: MemoryStore, m: unknown) => mem.files.set(ENCODING_PACK_MANIFEST, new TextEncoder().encode(JSON.stringify(m)));
  const small = async (opts: Parameters<typeof buildStandInEncodingPack>[1] = {}) => {
    const mem = new MemoryStore('mem-pack');
    await buildStandInEncodingPack(mem, { voxelCount: 40, size: 32, ...opts });
    return mem;
  };

  it('loads a small pack whose ROIs come from the bundle', async () => {
    const pack = await loadEncodingPack(await small());
    expect(pack.rois).toBeNull();
    expect(() => encodingPackSets(pack, null)).toThrow(/rois\.source/);
    expect(encodingPackSets(pack, [{ group: 'early', voxels: [0, 3] }]).early).toEqual(Int32Array.from([0, 3]));
  });

  it('names file and field when the voxel count disagrees with the bundle subject\'s mask', async () => {
    const { pack } = await built;
    const bundle = { subjects: [{ id: 1, voxelCount: 15000 }] } as Parameters<typeof checkEncodingPackForBundle>[1];
    expect(() => checkEncodingPackForBundle(pack, bundle, 'demo')).toThrow(/mem-pack\/encodingpack\.json: voxelCount: predicts 15724 voxels but subject 1 of demo has 15000.*expected 15000/);
    const noSubject = { subjects: [{ id: 2, voxelCount: 15724 }] } as Parameters<typeof checkEncodingPackForBundle>[1];
    expect(() => checkEncodingPackForBundle(pack, noSubject)).toThrow(/encodingpack\.json: subject: subject 1 is not in/);
  });

  it('rejects output shapes that disagree with voxelCount, unlisted files, bad checksums and ROI files', async () => {
    let mem = await small();
    let m = await manifestOf(mem);
    m.model.output.shape = ['batch', 41];
    put(mem, m);
    await expect(loadEncodingPack(mem)).rejects.toThrow(/encodingpack\.json: model\.output\.shape: output shape \[batch, 41\].*\[batch, 40\]/);

    mem = await small();
    m = await manifestOf(mem);
    m.model.input.shape = ['batch', 3, 64, 64];
    put(mem, m);
    await expect(loadEncodingPack(mem)).rejects.toThrow(/model\.input\.shape/);

    mem = await small();
    m = await manifestOf(mem);
    m.model.file = 'other.onnx';
    put(mem, m);
    await expect(loadEncodingPack(mem)).rejects.toThrow(/model\.file: "other\.onnx" is not listed/);

    mem = await small();
    mem.files.get('encoder.onnx')![100] ^= 1;
    await expect(loadEncodingPack(mem)).rejects.toThrow(/mem-pack\/encoder\.onnx: files\[\]\.sha256/);

    mem = await small();
    m = await manifestOf(mem);
    delete m.subject;
    put(mem, m);
    await expect(loadEncodingPack(mem)).rejects.toThrow(/encodingpack\.json: subject:/);

    mem = await small({ rois: 'pack' });
    const bad = writeNpy(new Uint8Array(40).fill(7), [40], '|u1');
    mem.files.set('rois.npy', bad);
    m = await manifestOf(mem);
    const entry = m.files.find((f: { path: string }) => f.path === 'rois.npy');
    entry.bytes = bad.byteLength;
    entry.sha256 = await sha256Hex(bad);
    put(mem, m);
    await expect(loadEncodingPack(mem)).rejects.toThrow(/mem-pack\/rois\.npy: rois\.file: voxel 0 has ROI index 7/);
  });

  it('names the graph file when its output does not have voxelCount values', async () => {
    const mem = await small();
    const m = await manifestOf(mem);
    m.voxelCount = 39;
    m.model.output.shape = ['batch', 'voxels'];
    put(mem, m);
    const pack = await loadEncodingPack(mem);
    const img = fromUint8(new Uint8Array(10 * 10 * 3).fill(90), 10, 10, 3);
    await expect(predictBetas(pack, await runner(pack), img)).rejects.toThrow(/mem-pack\/encoder\.onnx: model\.output\.shape: the graph returned 40 values.*39/);
  });
});
