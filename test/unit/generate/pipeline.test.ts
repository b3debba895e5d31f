// The whole pipeline at the REAL shapes (VDVAE 91168 latents, stage C 16x24x24, stage B 4x256x256,
// 1024x1024 pixels, CLIP 257x1024, GiT 30522-token vocabulary) with stand-in graphs built here and
// run by onnxruntime-web's wasm backend. One step per stage, two candidates: shapes and plumbing.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelPack, parseModelPack, PACK_MANIFEST, type LoadedModelPack } from '../../../src/core/generate/modelPack.ts';
import { PackSessions } from '../../../src/core/generate/sessions.ts';
import { buildStandInPack, REAL, REAL_HEAD_SHAPES } from '../../../src/core/generate/standInPack.ts';
import { MIRAGE_DEFAULTS, reconstruct, type DecodedHeads, type GenerateProgress } from '../../../src/core/generate/pipeline.ts';
import { detokenize } from '../../../src/core/generate/caption.ts';
import { NoiseRng } from '../../../src/core/base/rng.ts';
import { MemoryStore } from './memory.ts';

function heads(seed: number): DecodedHeads {
  const rng = new NoiseRng(seed);
  const v = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  const p = (s: number[]) => v(s.reduce((a, b) => a * b, 1));
  return { image: p(REAL_HEAD_SHAPES.image), text: p(REAL_HEAD_SHAPES.text), blurry: p(REAL_HEAD_SHAPES.blurry), retrieval: p(REAL_HEAD_SHAPES.retrieval), prompt: p(REAL_HEAD_SHAPES.prompt) };
}

// (vitest's deep equality is far too slow on 3 MB arrays)
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

const FAST = {
  candidates: 2,
  seed: 5,
  prior: { ...MIRAGE_DEFAULTS.prior, steps: 2 }, // int(2 × 0.7) = 1 step
  decoder: { ...MIRAGE_DEFAULTS.decoder, steps: 1 },
  captionMaxTokens: 3,
};

describe('model pack + pipeline at real shapes (stand-in graphs)', () => {
  let store: MemoryStore;
  let pack: LoadedModelPack;
  let sessions: PackSessions;
  beforeAll(async () => {
    store = new MemoryStore();
    await buildStandInPack(store, { seed: 2 });
    pack = await loadModelPack(store);
    sessions = new PackSessions(pack);
  });

  it('loads with checksums and rejects a tampered file naming it', async () => {
    expect(pack.manifest.stages.priorDenoiser.inputs.clip_text.shape).toEqual(['batch', 77, 1280]);
    expect(pack.unconditional.clipText.length).toBe(77 * 1280);
    expect(pack.vocab.length).toBe(REAL.gitVocab);
    const bad = new MemoryStore();
    for (const [k, v] of store.files) bad.files.set(k, v);
    const f = bad.files.get('models/stage_a.onnx') as Uint8Array;
    const t = f.slice();
    t[t.length - 1] ^= 1;
    bad.files.set('models/stage_a.onnx', t);
    await expect(loadModelPack(bad)).rejects.toThrow(/stage_a\.onnx.*sha256/);
  });

  it('validates the manifest with field paths', () => {
    const json = JSON.parse(new TextDecoder().decode(store.files.get(PACK_MANIFEST)));
    delete json.stages.latentDecoder.inputs.effnet;
    expect(() => parseModelPack(json)).toThrow(/stages\.latentDecoder\.inputs.*effnet/);
    const json2 = JSON.parse(new TextDecoder().decode(store.files.get(PACK_MANIFEST)));
    json2.stages.pixelDecoder.file = '../x.onnx';
    expect(() => parseModelPack(json2)).toThrow(/stages\.pixelDecoder\.file/);
  });

  it('reconstructs end to end with progress per stage and step', async () => {
    const seen: GenerateProgress[] = [];
    const r = await reconstruct(sessions, heads(1), FAST, { onProgress: (p) => seen.push(p) });
    expect(r.lowLevel?.width).toBe(64);
    expect(r.enhanced?.width).toBe(1024);
    expect(r.candidates).toHaveLength(2);
    expect(r.candidates[0].width).toBe(1024);
    expect(r.candidates[0].data.length).toBe(1024 * 1024 * 3);
    expect(r.scores).toHaveLength(2);
    for (const s of r.scores) expect(Math.abs(s)).toBeLessThanOrEqual(1);
    expect(r.best).toBe(r.scores[0] >= r.scores[1] ? 0 : 1);
    expect(r.captionTokens.length).toBeLessThanOrEqual(3);
    expect(r.caption).toBe(detokenize(r.captionTokens, pack.vocab));
    // what ran where: every stage on wasm here (Node), so the TypeScript sampler
    expect(new Set(Object.values(r.providers))).toEqual(new Set(['wasm']));
    expect(Object.keys(r.providers).sort()).toEqual(Object.keys(pack.manifest.stages).sort());
    expect(r.sampler).toBe('typescript');
    const stages = new Set(seen.map((p) => p.stage));
    for (const s of ['lowLevel', 'enhance', 'latentEncode', 'prior', 'decoder', 'pixels', 'retrieval', 'caption']) expect(stages.has(s as never)).toBe(true);
    expect(seen.filter((p) => p.stage === 'prior').at(-1)).toMatchObject({ step: 1, total: 1 });
    // same seed -> same pixels; candidates differ from each other
    const again = await reconstruct(sessions, heads(1), FAST);
    expect(sameBytes(again.candidates[1].data, r.candidates[1].data)).toBe(true);
    expect(again.scores).toEqual(r.scores);
    expect(sameBytes(r.candidates[0].data, r.candidates[1].data)).toBe(false);
  });

  it('names the head and shape when decoded features do not fit the pack', async () => {
    const h = heads(1);
    h.text = new Float32Array(10);
    await expect(reconstruct(sessions, h, FAST)).rejects.toThrow(/text.*77, 1280/);
  });

  it('cancels within one step', async () => {
    const ctrl = new AbortController();
    const p = reconstruct(sessions, heads(2), { ...FAST, decoder: { ...FAST.decoder, steps: 5 } }, {
      signal: ctrl.signal,
      onProgress: (pr) => { if (pr.stage === 'decoder' && pr.step === 1) ctrl.abort(); },
    });
    await expect(p).rejects.toThrow(/cancel/);
  });
});

describe('detokenize', () => {
  it('joins WordPiece pieces and drops special tokens', () => {
    expect(detokenize([0, 1, 2, 3], ['[CLS]', 'a', 'ban', '##ana'])).toBe('a banana');
  });
});
