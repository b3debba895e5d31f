// decodeCondition: MIRAGE's decode of one condition (repeats averaged, normalised over the named
// batch, raw with a stated reason where a head has no training-target statistics), and the callers
// that go through it (decodeSubject, the decode worker's DecodeSession, the head cache).
// Data: a small in-memory bundle with random heads: one with statistics, one without, one 'l2-token'.
import { beforeAll, describe, expect, it } from 'vitest';
import { Bundle } from '../../../src/core/bundle/loader.ts';
import type { Head, Trial } from '../../../src/core/bundle/manifest.ts';
import { MemoryStore } from '../../../src/core/bundle/memoryStore.ts';
import { BundleWriter } from '../../../src/core/bundle/writer.ts';
import { createBackend, type DecoderBackend } from '../../../src/core/decode/backend.ts';
import { batchName, decodeCondition, normalizationSlope } from '../../../src/core/decode/decodeCondition.ts';
import { decodeSubject } from '../../../src/core/decode/decodeSubject.ts';
import { HeadCache } from '../../../src/core/decode/headCache.ts';
import { addHead } from '../../../src/core/decode/headBuilder.ts';
import { averageRows, loadHead, normalizePredictions, predictHead, type LoadedHead } from '../../../src/core/decode/predict.ts';
import { DecodeSession } from '../../../src/core/decode/session.ts';
import { mulberry32 } from '../../../src/core/base/rng.ts';
import { AbortError } from '../../../src/core/base/errors.ts';
import { decodeFloat16, encodeFloat16 } from '../../../src/core/tensor/float16.ts';
import { matrix } from '../../../src/core/tensor/matrix.ts';

const P = 30;
const STIMULI = 4;
const REPEATS = { vision: 2, imagery: 3 } as const;
const rand = mulberry32(11);
const randn = (n: number, s = 1) => Float32Array.from({ length: n }, () => (rand() - 0.5) * 2 * s);
const betas: Float32Array[] = [];
let mem: MemoryStore;
let bundle: Bundle;
const loaded: Record<string, LoadedHead> = {};

beforeAll(async () => {
  mem = new MemoryStore();
  const w = new BundleWriter(mem);
  const heads: Head[] = [];
  const rank = 3;
  const add = (name: 'text' | 'image' | 'retrieval', shape: number[], stats: boolean, outputNorm: Head['outputNorm'] = 'none') => {
    const q = shape.reduce((a, b) => a * b, 1);
    heads.push(
      addHead(w, 1, {
        name, role: 'test', outputShape: shape, A: matrix(P, rank, randn(P * rank)), B: matrix(rank, q, randn(rank * q)), intercept: randn(q, 0.1),
        ...(stats ? { targetMean: Float32Array.from({ length: q }, (_, i) => i + 1), targetStd: Float32Array.from({ length: q }, (_, i) => 0.5 + i / 4) } : {}),
        outputNorm, penalty: 1, fidelity: { r2: 1, trials: 0 },
      }),
    );
  };
  add('text', [2, 3], true);
  add('image', [4], false);
  add('retrieval', [2, 3], true, 'l2-token');
  const trials: Trial[] = [];
  // Runs interleave stimuli and conditions, as a real session would.
  for (const condition of ['vision', 'imagery'] as const) {
    for (let rep = 0; rep < REPEATS[condition]; rep++) {
      for (let s = STIMULI - 1; s >= 0; s--) {
        const b = randn(P);
        betas.push(decodeFloat16(encodeFloat16(b)));
        const ref = w.addTensor('subj01/betas.bin', b, 'float16', [P]);
        trials.push({ subject: 1, run: condition === 'vision' ? `visA` : `imgA_1`, stimulus: s, condition, repeat: rep, betas: { shard: ref.shard, offset: ref.offset } });
      }
    }
  }
  await w.finish({
    name: 'decodeCondition test', provenance: { kind: 'simulated', command: 'test', createdAt: new Date(0).toISOString(), generator: { name: 'test', version: '0' }, sources: [] },
    imageSize: 8,
    subjects: [{ id: 1, label: 'subj01', role: 'decoded', voxelCount: P, betaDtype: 'float16', surfaces: [], rois: [], heads }],
    stimuli: Array.from({ length: STIMULI }, (_, id) => ({ id, name: `s${id}`, set: 'simple' as const, cue: 'ABCD'[id], caption: 'x' })),
    trials,
    features: [],
  });
  bundle = await Bundle.open(mem, { verify: 'sizes' });
  for (const h of heads) loaded[h.name] = await loadHead(bundle, h);
});

/** The reference: averaged betas of each stimulus's repeats in `condition`, rows in stimulus order. */
function averagedBetas(condition: 'vision' | 'imagery'): Float32Array {
  const trials = bundle.manifest.trials;
  const groups = Array.from({ length: STIMULI }, (_, s) => trials.flatMap((t, i) => (t.stimulus === s && t.condition === condition ? [i] : [])));
  return averageRows(Float32Array.from(betas.flatMap((b) => [...b])), P, groups);
}

describe('decodeCondition', () => {
  it('averages each stimulus\'s repeats, decodes, and normalises over the named batch', async () => {
    const backend = await createBackend(['js']);
    const dec = await decodeCondition(bundle, new HeadCache(backend), { subject: 1, condition: 'imagery' });
    expect(dec.rows.map((r) => r.stimulus)).toEqual([0, 1, 2, 3]);
    expect(dec.rows.every((r) => r.trials.length === 3 && r.condition === 'imagery')).toBe(true);
    expect(dec.batch).toBe('4 stimuli × imagery, subject 1, repeats averaged (3 per stimulus)');
    expect(dec.batch).toBe(batchName(1, 'imagery', dec.rows, true));
    const text = dec.heads.find((h) => h.name === 'text')!;
    // raw = the reference decoder on the averaged betas
    const want = predictHead(loaded.text, averagedBetas('imagery'), STIMULI);
    text.raw.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    // normalised = normalizePredictions over exactly this batch, bit for bit, and its batch named
    const ref = normalizePredictions(text.raw, STIMULI, 6, loaded.text.targetMean!, loaded.text.targetStd!, dec.batch);
    expect(Array.from(text.values)).toEqual(Array.from(ref.values));
    expect(text.normalization).toEqual({ batch: ref.batch });
    // each output's mean over the batch is the training-target mean, its population std the target std
    for (let o = 0; o < 6; o++) {
      const col = Array.from({ length: STIMULI }, (_, i) => text.values[i * 6 + o]);
      const m = col.reduce((a, b) => a + b, 0) / STIMULI;
      expect(m).toBeCloseTo(o + 1, 4);
      expect(Math.sqrt(col.reduce((a, b) => a + (b - m) ** 2, 0) / STIMULI)).toBeCloseTo(0.5 + o / 4, 4);
    }
    expect(Array.from(text.slope!)).toEqual(Array.from(normalizationSlope(text.raw, STIMULI, 6, loaded.text.targetStd!)));
    backend.dispose();
  });

  it('a head without training-target statistics is decoded raw and says why (never an error, never silent)', async () => {
    const backend = await createBackend(['js']);
    const dec = await decodeCondition(bundle, new HeadCache(backend), { subject: 1, condition: 'vision', heads: ['image'] });
    const image = dec.heads[0];
    expect(image.values).toBe(image.raw);
    expect(image.normalized).toBe(image.raw);
    expect(image.slope).toBeNull();
    expect(image.normalization).toEqual({ missing: 'head "image" of subject 1 has no training-target targetMean or targetStd in manifest.json: decoded raw, not normalised' });
    const want = predictHead(loaded.image, averagedBetas('vision'), STIMULI);
    image.raw.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    backend.dispose();
  });

  it("re-applies an 'l2-token' head's per-token norm after normalising (normalized keeps the value before it)", async () => {
    const backend = await createBackend(['js']);
    const dec = await decodeCondition(bundle, new HeadCache(backend), { subject: 1, condition: 'vision', heads: ['retrieval'] });
    const h = dec.heads[0];
    for (let t = 0; t < h.values.length; t += 3) expect(Math.hypot(...h.values.subarray(t, t + 3))).toBeCloseTo(1, 5);
    const ref = normalizePredictions(h.raw, STIMULI, 6, loaded.retrieval.targetMean!, loaded.retrieval.targetStd!);
    expect(Array.from(h.normalized)).toEqual(Array.from(ref.values));
    expect(Math.hypot(...h.normalized.subarray(0, 3))).not.toBeCloseTo(1, 3);
    backend.dispose();
  });

  it('average: false batches every single trial of the condition, in manifest order', async () => {
    const backend = await createBackend(['js']);
    const dec = await decodeCondition(bundle, new HeadCache(backend), { subject: 1, condition: 'vision', heads: ['text'], average: false });
    const vision = bundle.manifest.trials.flatMap((t, i) => (t.condition === 'vision' ? [i] : []));
    expect(dec.rows.map((r) => r.trials)).toEqual(vision.map((i) => [i]));
    expect(dec.batch).toBe(`${vision.length} single trials × vision, subject 1`);
    const want = predictHead(loaded.text, Float32Array.from(vision.flatMap((i) => [...betas[i]])), vision.length);
    dec.heads[0].raw.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    backend.dispose();
  });

  it('names a missing head, a condition without trials, and stops on abort', async () => {
    const backend = await createBackend(['js']);
    const cache = new HeadCache(backend);
    await expect(decodeCondition(bundle, cache, { subject: 1, condition: 'vision', heads: ['blurry'] })).rejects.toThrow(/subject 1 has no "blurry" head/);
    await expect(decodeCondition(bundle, cache, { subject: 1, condition: 'attention' })).rejects.toThrow(/subject 1 has no attention trials/);
    const ac = new AbortController();
    ac.abort();
    await expect(decodeCondition(bundle, cache, { subject: 1, condition: 'vision', signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
    backend.dispose();
  });
});

describe('HeadCache', () => {
  it('uploads a head once per bundle and subject, and again for another bundle', async () => {
    const inner = await createBackend(['js']);
    const uploads: string[] = [];
    const counting: DecoderBackend = {
      name: inner.name,
      setHead: (h) => (uploads.push(h.spec.name), inner.setHead(h)),
      predict: (n, b, r) => inner.predict(n, b, r),
      project: (n, b, r) => inner.project(n, b, r),
      dispose: () => inner.dispose(),
    };
    const cache = new HeadCache(counting);
    await decodeCondition(bundle, cache, { subject: 1, condition: 'vision', heads: ['text', 'image'] });
    await decodeCondition(bundle, cache, { subject: 1, condition: 'imagery', heads: ['text'] });
    expect(uploads).toEqual(['text', 'image']);
    const again = await Bundle.open(mem, { verify: 'sizes' });
    await decodeCondition(again, cache, { subject: 1, condition: 'vision', heads: ['text'] });
    expect(uploads).toEqual(['text', 'image', 'text']);
    inner.dispose();
  });
});

describe('callers of decodeCondition', () => {
  it('decodeSubject --normalize: per-condition batches, a head without statistics written raw with its reason', async () => {
    const backend = await createBackend(['js']);
    const res = await decodeSubject(bundle, backend, { subject: 1, average: true, normalize: true });
    expect(res.rows.map((r) => `${r.stimulus}${r.condition[0]}`)).toEqual(['0v', '0i', '1v', '1i', '2v', '2i', '3v', '3i']);
    const image = res.heads.find((h) => h.name === 'image')!;
    expect(image.normalization!.map((n) => [n.condition, 'missing' in n])).toEqual([['vision', true], ['imagery', true]]);
    const text = res.heads.find((h) => h.name === 'text')!;
    const imagery = await decodeCondition(bundle, new HeadCache(backend), { subject: 1, condition: 'imagery', heads: ['text'] });
    // the imagery rows of the subject-wide result are exactly decodeCondition's values
    [1, 3, 5, 7].forEach((ri, k) => expect(Array.from(text.values.subarray(ri * 6, ri * 6 + 6))).toEqual(Array.from(imagery.heads[0].values.subarray(k * 6, k * 6 + 6))));
    expect(text.normalization![1]).toMatchObject({ condition: 'imagery', rows: [1, 3, 5, 7], size: 4, label: imagery.batch });
    backend.dispose();
  });

  it("the decode worker's session returns one stimulus's row of the normalised batch, and raw trials otherwise", async () => {
    const session = new DecodeSession();
    await session.open(mem);
    expect(await session.initBackend(['js'])).toBe('js');
    const res = await session.decode({ subject: 1, trials: [], heads: ['text', 'image'], average: true, normalize: { stimulus: 2, condition: 'imagery' } });
    const ref = await decodeCondition(bundle, new HeadCache(await createBackend(['js'])), { subject: 1, condition: 'imagery', heads: ['text', 'image'] });
    expect(Array.from(res.predictions.text!.values)).toEqual(Array.from(ref.heads[0].values.subarray(12, 18)));
    expect(res.predictions.text!.rows).toBe(1);
    expect(res.trials).toEqual(ref.rows[2].trials);
    expect(res.normalization!.description).toBe(`normalised over ${ref.batch}; target mean/std from training`);
    expect(res.normalization!.stimuli).toEqual([0, 1, 2, 3]);
    expect(res.normalization!.heads.image).toEqual(ref.heads[1].normalization);
    expect('missing' in res.normalization!.heads.image!).toBe(true);
    const raw = await session.decode({ subject: 1, trials: [0, 5], heads: ['text'], average: false });
    expect(raw.normalization).toBeUndefined();
    const want = predictHead(loaded.text, Float32Array.from([...betas[0], ...betas[5]]), 2);
    raw.predictions.text!.values.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    session.dispose();
  });
});
