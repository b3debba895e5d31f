// Reconstruction from a perturbed state (issue 4): GenerateService maps raw head deltas (the units
// of predictHead, what the cortex computes as (dx_R·A_R)·B) through the per-dimension affine map
// MIRAGE's normalisation applied, adds them to the decoded heads and reconstructs.
// Data: the mini reconstruction bundle (18 simulated stimuli, one subject, five heads with training
// target statistics) and its demo model pack, built in memory; onnxruntime-web wasm.
import { beforeAll, describe, expect, it } from 'vitest';
import { Bundle } from '../../../src/core/bundle/loader.ts';
import { createBackend } from '../../../src/core/decode/backend.ts';
import { decodeSubject } from '../../../src/core/decode/decodeSubject.ts';
import { writeMiniReconBundle } from '../../../src/core/simulate/miniBundle.ts';
import { GenerateService, HEAD_KEYS, type HeadDeltas, type ReconstructResult } from '../../../src/core/generate/service.ts';
import { PrefixSource } from '../../../src/core/bundle/prefixSource.ts';
import { MIRAGE_DEFAULTS } from '../../../src/core/generate/pipeline.ts';
import { MemoryStore } from './memory.ts';

const SETTINGS = { candidates: 4, seed: 3, prior: { ...MIRAGE_DEFAULTS.prior, steps: 6 }, decoder: { ...MIRAGE_DEFAULTS.decoder, steps: 3 } };
const THIS = 1;
const OTHER = 4;

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;
const chosen = (r: ReconstructResult) => r.candidates[r.best].data;

describe('GenerateService: reconstruction from a perturbed state', () => {
  let mem: MemoryStore;
  let service: GenerateService;
  let plain: ReconstructResult;

  beforeAll(async () => {
    mem = new MemoryStore();
    await writeMiniReconBundle(mem);
    service = new GenerateService();
    await service.open(mem, new PrefixSource(mem, 'modelpack/'));
    plain = await service.reconstruct({ subject: 1, stimulus: THIS, condition: 'vision', settings: SETTINGS });
  }, 120_000);

  it('decodes exactly what decodeSubject(normalize: true) gives, and keeps the exact normalisation slope', async () => {
    const bundle = await Bundle.open(mem, { verify: 'sizes' });
    const backend = await createBackend(['js']);
    const ref = await decodeSubject(bundle, backend, { subject: 1, average: true, normalize: true, conditions: ['vision'], heads: [...HEAD_KEYS] });
    const raw = await decodeSubject(bundle, backend, { subject: 1, average: true, normalize: false, conditions: ['vision'], heads: [...HEAD_KEYS] });
    const dec = await service.decodedCondition(1, 'vision');
    const n = ref.rows.length;
    expect(n).toBe(18);
    for (const h of ref.heads) {
      const k = h.name as (typeof HEAD_KEYS)[number];
      const q = h.values.length / n;
      ref.rows.forEach((r, i) => expect(sameBytes(new Uint8Array(dec.heads.get(r.stimulus)![k].buffer), new Uint8Array(h.values.slice(i * q, (i + 1) * q).buffer)), `${k} row ${i}`).toBe(true));
      // slope = targetStd / batch std (population), recomputed here in float64 from the raw predictions
      const x = raw.heads.find((y) => y.name === k)!.values;
      const spec = bundle.subject(1).heads.find((y) => y.name === k)!;
      const tStd = (await bundle.tensor(spec.targetStd!)) as Float32Array;
      const tMean = (await bundle.tensor(spec.targetMean!)) as Float32Array;
      let worst = 0;
      for (let o = 0; o < q; o += Math.max(1, Math.floor(q / 500))) {
        let m = 0;
        for (let i = 0; i < n; i++) m += x[i * q + o] / n;
        let v = 0;
        for (let i = 0; i < n; i++) v += (x[i * q + o] - m) ** 2 / n;
        const want = Math.sqrt(v) > 0 ? tStd[o] / Math.sqrt(v) : 0;
        worst = Math.max(worst, Math.abs(dec.scale[k]![o] - want) / Math.max(1e-12, Math.abs(want)));
        // and the mapped delta is exactly the change of the normalised value with the batch fixed:
        // ((x + Δ - mean) / sd) · tStd + tMean  -  ((x - mean) / sd) · tStd + tMean
        const delta = 0.37 * (o % 7 === 0 ? -1 : 1);
        const sd = Math.sqrt(v);
        if (sd > 0) {
          const before = ((x[o] - m) / sd) * tStd[o] + tMean[o];
          const after = ((x[o] + delta - m) / sd) * tStd[o] + tMean[o];
          expect(Math.abs(delta * dec.scale[k]![o] - (after - before))).toBeLessThan(1e-5 * Math.max(1, Math.abs(after - before)));
        }
      }
      expect(worst, k).toBeLessThan(1e-6);
    }
    backend.dispose();
  });

  it('applies a raw delta as normalised + Δ·targetStd/batchStd (per dimension), only to the heads given', async () => {
    const dec = await service.decodedCondition(1, 'vision');
    const q = dec.normalized.get(THIS)!.image.length;
    const d = Float32Array.from({ length: q }, (_, i) => Math.sin(i));
    const { heads, perturbed } = await service.perturbedHeads({ subject: 1, stimulus: THIS, condition: 'vision', headDeltas: { image: d }, deltaLabel: 'test gain' });
    for (let i = 0; i < q; i++) expect(heads.image[i]).toBe(Math.fround(dec.normalized.get(THIS)!.image[i] + d[i] * dec.scale.image![i]));
    expect(heads.text).toBe(dec.heads.get(THIS)!.text);
    expect(perturbed).toMatch(/^test gain: .*targetStd\/batchStd.*image/);
    await expect(service.perturbedHeads({ subject: 1, stimulus: THIS, condition: 'vision', headDeltas: { image: new Float32Array(3) } })).rejects.toThrow(/headDeltas\.image: expected a Float32Array of \d+ values/);
  });

  it('zero deltas reproduce the unperturbed reconstruction exactly (same seed)', async () => {
    const dec = await service.decodedCondition(1, 'vision');
    const zeros: HeadDeltas = Object.fromEntries(HEAD_KEYS.map((k) => [k, new Float32Array(dec.heads.get(THIS)![k].length)]));
    const r = await service.reconstruct({ subject: 1, stimulus: THIS, condition: 'vision', settings: SETTINGS, headDeltas: zeros, deltaLabel: 'nothing' });
    expect(plain.perturbed).toBeNull();
    expect(r.perturbed).toMatch(/^nothing: /);
    expect(r.caption).toBe(plain.caption);
    expect(r.scores).toEqual(plain.scores);
    expect(r.best).toBe(plain.best);
    r.candidates.forEach((c, k) => expect(sameBytes(c.data, plain.candidates[k].data), `candidate ${k}`).toBe(true));
    expect(sameBytes(r.lowLevel!.data, plain.lowLevel!.data)).toBe(true);
  }, 60_000);

  it("a delta of (other stimulus's normalised heads - this one's) / slope reconstructs the other stimulus", async () => {
    const dec = await service.decodedCondition(1, 'vision');
    const a = dec.normalized.get(THIS)!;
    const b = dec.normalized.get(OTHER)!;
    const deltas: HeadDeltas = {};
    for (const k of HEAD_KEYS) {
      const s = dec.scale[k]!;
      deltas[k] = Float32Array.from(a[k], (v, i) => (s[i] ? (b[k][i] - v) / s[i] : 0));
    }
    const other = await service.reconstruct({ subject: 1, stimulus: OTHER, condition: 'vision', settings: SETTINGS });
    // the test can fail: the two stimuli reconstruct differently
    expect(other.caption === plain.caption && sameBytes(chosen(other), chosen(plain))).toBe(false);
    const moved = await service.reconstruct({ subject: 1, stimulus: THIS, condition: 'vision', settings: SETTINGS, headDeltas: deltas, deltaLabel: `become stimulus ${OTHER}` });
    expect(moved.caption).toBe(other.caption);
    expect(moved.best).toBe(other.best);
    const x = chosen(moved);
    const y = chosen(other);
    let maxDiff = 0;
    for (let i = 0; i < x.length; i++) maxDiff = Math.max(maxDiff, Math.abs(x[i] - y[i]));
    expect(maxDiff).toBeLessThanOrEqual(1); // float32 rounding of Δ·slope at most flips a truncation
    expect(moved.scores.map((v) => v.toFixed(4))).toEqual(other.scores.map((v) => v.toFixed(4)));
  }, 60_000);

  it("re-applies an 'l2-token' head's per-token L2 norm after the delta (the decoder's order), exactly for a zero delta", async () => {
    // the same bundle with the retrieval head declared 'l2-token' (as the demo's is)
    const l2 = new MemoryStore();
    for (const [k, v] of mem.files) l2.files.set(k, v);
    const manifest = JSON.parse(new TextDecoder().decode(mem.files.get('manifest.json')));
    for (const h of manifest.subjects[0].heads) if (h.name === 'retrieval') h.outputNorm = 'l2-token';
    l2.files.set('manifest.json', new TextEncoder().encode(JSON.stringify(manifest)));
    const svc = new GenerateService();
    await svc.open(l2, new PrefixSource(l2, 'modelpack/'));
    const dec = await svc.decodedCondition(1, 'vision');
    const base = dec.heads.get(THIS)!.retrieval;
    const width = manifest.subjects[0].heads.find((h: { name: string }) => h.name === 'retrieval').outputShape.at(-1);
    const norms = (x: Float32Array) => Array.from({ length: x.length / width }, (_, t) => Math.hypot(...x.subarray(t * width, (t + 1) * width)));
    for (const n of norms(base)) expect(n).toBeCloseTo(1, 5);
    const zero = await svc.perturbedHeads({ subject: 1, stimulus: THIS, condition: 'vision', headDeltas: { retrieval: new Float32Array(base.length) } });
    expect(sameBytes(new Uint8Array(zero.heads.retrieval.buffer), new Uint8Array(base.buffer))).toBe(true);
    const d = Float32Array.from({ length: base.length }, (_, i) => 0.5 * Math.cos(i));
    const moved = await svc.perturbedHeads({ subject: 1, stimulus: THIS, condition: 'vision', headDeltas: { retrieval: d } });
    expect(moved.perturbed).toMatch(/retrieval \(tokens re-L2-normalised\)/);
    for (const n of norms(moved.heads.retrieval)) expect(n).toBeCloseTo(1, 5);
    const pre = dec.normalized.get(THIS)!.retrieval;
    const s = dec.scale.retrieval!;
    const t0 = Array.from({ length: width }, (_, i) => pre[i] + d[i] * s[i]);
    const n0 = Math.hypot(...t0);
    for (let i = 0; i < width; i++) expect(moved.heads.retrieval[i]).toBeCloseTo(t0[i] / n0, 6);
    await svc.dispose();
  }, 60_000);
});
