// buildDemo end to end on a tiny config: a valid bundle, deterministic for a seed, structure of the
// real experiment, and the ONNX model files listed with their hashes.
import { describe, expect, it } from 'vitest';
import { Bundle } from '../../../src/core/bundle/loader.ts';
import { type Manifest } from '../../../src/core/bundle/manifest.ts';
import { sha256Hex } from '../../../src/core/bundle/sha256.ts';
import { MemoryStore as MemoryBundle } from '../../../src/core/bundle/memoryStore.ts';
import { validateBundle } from '../../../src/core/bundle/validate.ts';
import { buildDemo } from '../../../src/core/simulate/buildDemo.ts';
import { createSession } from '../../../src/core/onnx/runtime.ts';
import { hasGroundTruth, loadGroundTruth } from '../../../src/core/simulate/groundTruth.ts';
import { predictBetasFromImage } from '../../../src/core/simulate/encoding.ts';


const small = {
  voxels: 80,
  trainImages: 60,
  galleryImages: 8,
  decodedSubjects: [1, 2],
  tuningSubjects: [3],
  alphas: [100, 1000],
  ranks: { image: 8, text: 8, blurry: 8, retrieval: 8, prompt: 8 },
  createdAt: '2026-01-01T00:00:00.000Z',
};

async function build(seed: number): Promise<{ m: Manifest; mem: MemoryBundle; labels: string[] }> {
  const mem = new MemoryBundle();
  const labels: string[] = [];
  const m = await buildDemo(mem, { ...small, seed, onProgress: (_d, _t, l) => labels.push(l) });
  return { m, mem, labels };
}

describe('buildDemo (small config)', () => {
  it('is deterministic (same seed, same shard hashes), valid, simulated and shaped like NSD-Imagery', async () => {
    const a = await build(7);
    const b = await build(7);
    expect(a.m.shards.map((s) => s.sha256)).toEqual(b.m.shards.map((s) => s.sha256));
    expect(a.m.shards.length).toBeGreaterThan(8);

    const report = await validateBundle(a.mem);
    expect(report.errors.map((e) => e.message)).toEqual([]);
    expect(report.ok).toBe(true);

    const m = a.m;
    expect(m.provenance.kind).toBe('simulated');
    expect(m.provenance.seed).toBe(7);
    expect(m.subjects.map((s) => [s.id, s.role])).toEqual([[1, 'decoded'], [2, 'decoded'], [3, 'tuning']]);
    const s1 = m.subjects[0];
    expect(s1.heads.map((h) => h.name)).toEqual(['image', 'text', 'blurry', 'retrieval', 'prompt']);
    expect(s1.surfaces.map((s) => s.hemi)).toEqual(['lh', 'rh']);
    expect(s1.rois.map((r) => r.name)).toEqual(expect.arrayContaining(['V1', 'V2', 'V3', 'hV4']));
    expect(m.stimuli.length).toBe(18);
    expect(m.trials.filter((t) => t.subject === 1).length).toBe(18 * 24);
    expect(m.trials.some((t) => t.subject === 3)).toBe(false);
    expect(a.labels.some((l) => l.includes('tuning subject 3'))).toBe(true);
    // the chosen penalty comes from the grid and is recorded on every head
    expect(small.alphas).toContain(s1.heads[0].penalty);
    expect(s1.heads[0].penaltySource).toMatch(/tuning subjects 3/);

    // the loader reads the trial betas back: z-scored within the run label (float16)
    const bundle = await Bundle.open(a.mem);
    const rows = m.trials.map((t, i) => (t.subject === 1 && t.run === 'visA' ? i : -1)).filter((i) => i >= 0);
    let mean = 0;
    for (const i of rows) mean += (await bundle.trialBetas(i))[5] / rows.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);

    // models: listed with hashes, and they load in onnxruntime
    const listing = JSON.parse(new TextDecoder().decode(a.mem.files.get('models/models.json')!));
    expect(listing.models.map((x: { name: string }) => x.name)).toContain('lowlevel_decoder');
    for (const mod of listing.models) {
      const bytes = a.mem.files.get(mod.file)!;
      expect(await sha256Hex(bytes)).toBe(mod.sha256);
    }
    const dec = await createSession(a.mem.files.get('models/lowlevel_decoder.onnx')!);
    expect(dec.inputNames).toEqual(['latents']);
    expect(dec.outputNames).toEqual(['image']);
    const sim = m.extensions!.simulation as { subjects: unknown[]; tuning: { chosen: number } };
    expect(sim.subjects.length).toBe(2);
    expect(sim.tuning.chosen).toBe(s1.heads[0].penalty);

    // the ground-truth encoding model loads back and predicts betas for an image
    expect(hasGroundTruth(m)).toBe(true);
    const gt = await loadGroundTruth(bundle, 2);
    expect(gt.model.nVox).toBe(small.voxels);
    const img = (await bundle.tensor(m.stimuli[6].image!)) as Uint8Array;
    const embRef = m.features.find((f) => f.name === 'stimuli' && f.head === 'image')!.values;
    const emb = ((await bundle.tensor(embRef)) as Float32Array).subarray(6 * 128, 7 * 128);
    const pred = predictBetasFromImage(gt.model, img, emb, gt.semanticFromEmbedding);
    expect(pred.length).toBe(small.voxels);
    expect(pred.every(Number.isFinite)).toBe(true);
    await expect(loadGroundTruth(bundle, 3)).rejects.toThrow(/no ground-truth model for subject 3/);

  }, 600_000);

  it('stops with an AbortError when cancelled, writing nothing', async () => {
    const mem = new MemoryBundle();
    const ctl = new AbortController();
    ctl.abort();
    await expect(buildDemo(mem, { ...small, seed: 1, signal: ctl.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(mem.files.size).toBe(0);
  });
});
