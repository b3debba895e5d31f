// `mirage pack git`: GiT's image encoder and text decoder built from a checkpoint with the official
// HF key names, compared with the public reference implementation (transformers' modeling_git.py)
// run on the same random checkpoint (test/fixtures/packs/README.md, git-tiny), at reduced width and
// depth of the same config-driven builders; greedy captions with and without the key/value cache.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/core/bundle/memoryStore.ts';
import { bytesSource } from '../../../src/core/formats/byteSource.ts';
import { decodeCaption, greedyCaption, type CaptionDecoderRunner } from '../../../src/core/generate/caption.ts';
import type { LoadedModelPack } from '../../../src/core/generate/modelPack.ts';
import { PackSessions } from '../../../src/core/generate/sessions.ts';
import { Transfers } from '../../../src/core/generate/transfers.ts';
import { openCheckpoint, type Checkpoint, type CheckpointFolder } from '../../../src/core/generate/packers/checkpoint.ts';
import { clipVisionShapes } from '../../../src/core/generate/packers/clip.ts';
import { checkGitCheckpoint, gitDecoderShapes, GIT_BASE, GIT_LARGE_COCO, GIT_VISION_LAYOUT, gitParamCount, type GitConfig } from '../../../src/core/generate/packers/git.ts';
import { captionFeatures, loadCaptionVocab, stageCaptionRunner } from '../../../src/core/generate/packers/gitCaption.ts';
import { packGit, readGitVocab } from '../../../src/core/generate/packers/gitPack.ts';
import { openStageSession, runStage } from '../../../src/core/generate/packers/runStage.ts';
import { loadPackStage } from '../../../src/core/generate/packers/stagePack.ts';
import { ort } from '../../../src/core/onnx/runtime.ts';
import { readNpy, writeNpy } from '../../../src/core/tensor/npy.ts';

const DIR = join(import.meta.dirname, '../../fixtures/packs/git-tiny');
/** The reference run's config (fixtures README): vision 32 wide, 2 layers, patch 14 at 28 px (5 tokens); text 32 wide, 2 layers, vocab 120. */
const TINY: GitConfig = {
  name: 'GiT-tiny',
  vision: { name: 'tiny', imageSize: 28, patchSize: 14, width: 32, layers: 2, heads: 4, mlp: 64, projectionDim: 0, layerNormEps: 1e-5 },
  hidden: 32, layers: 2, heads: 4, intermediate: 64, vocab: 120, maxPositions: 40, layerNormEps: 1e-12, bosTokenId: 101, eosTokenId: 102,
};

async function fixture(name: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(join(DIR, name)));
}
async function npy(name: string) {
  return readNpy(await fixture(name), name);
}
function memFolder(files: Record<string, Uint8Array>, label = 'git-tiny'): CheckpointFolder {
  return { label, open: async (p) => (files[p] ? bytesSource(files[p], `${label}/${p}`) : null) };
}
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
/** A checkpoint of shapes only (the checks read no values). */
function shapesOnly(shapes: Map<string, number[]>, drop: string[] = [], reshape: Record<string, number[]> = {}): Checkpoint {
  const tensors = new Map([...shapes].filter(([k]) => !drop.includes(k)).map(([name, shape]) => [name, { name, shape: reshape[name] ?? shape, dtype: 'F32', file: 'model.safetensors' }]));
  return { label: 'ck', files: ['model.safetensors'], tensors, read: () => Promise.reject(new Error('no values')) };
}
const allShapes = (cfg: GitConfig) => new Map([...clipVisionShapes(cfg.vision, GIT_VISION_LAYOUT), ...gitDecoderShapes(cfg)]);

async function packTiny(weights: 'model.safetensors' | 'pytorch_model.bin' = 'model.safetensors', precision: 'float32' | 'both' = 'float32') {
  const folder = memFolder({ [weights]: await fixture(weights), 'config.json': await fixture('config.json'), 'vocab.txt': await fixture('vocab.txt') });
  const ck = await openCheckpoint(folder);
  const store = new MemoryStore('pack');
  const manifest = await packGit(ck, await readGitVocab(folder, TINY), store, { config: TINY, createdAt: 'fixed', precision });
  return { store, manifest };
}
/** The tiny pack's caption decoder stage and vocabulary. */
async function tinyDecoder() {
  const { store } = await packTiny();
  const stage = await loadPackStage(store, 'captionDecoder');
  return { stage, vocab: await loadCaptionVocab(store, stage) };
}
const refIds = async () => {
  const a = await npy('ref_greedy_ids.npy');
  const n = a.shape[1];
  return [0, 1].map((r) => Array.from(a.data.slice(r * n, (r + 1) * n), Number).filter((x) => x >= 0));
};
/** The reference's tokens after [CLS], without the final [SEP] (what greedyCaption returns). */
const captionOf = (ids: number[]) => ids.slice(1).filter((x) => x !== 102);

describe('GiT pack vs the reference implementation (reduced config)', () => {
  it('image encoder: post_layernorm of every token equals transformers GitVisionModel to float32 rounding', async () => {
    const { store, manifest } = await packTiny();
    const stage = await loadPackStage(store, 'imageEncoder');
    const r = await runStage(stage, { pixel_values: await npy('pixel_values.npy') });
    const ref = await npy('ref_features.npy');
    expect(r.outputs.last_hidden_state.dims).toEqual([2, 5, 32]);
    expect(Object.keys(r.outputs)).toEqual(['last_hidden_state']);
    expect(maxAbsDiff(r.outputs.last_hidden_state.data as Float32Array, ref.data as Float32Array)).toBeLessThan(2e-5);
    const p = gitParamCount(TINY);
    expect(manifest.stages.imageEncoder?.settings.parameters).toBe(p.imageEncoder);
    expect(manifest.stages.captionDecoder?.settings.parameters).toBe(p.textDecoder);
    expect(p.total).toBe(63576); // every tensor of the reference GitForCausalLM (its state dict, counted by the reference run)
  });

  it('text decoder, one uncached call: logits of the text rows equal the reference', async () => {
    const { store } = await packTiny();
    const stage = await loadPackStage(store, 'captionDecoder');
    const session = await openStageSession(stage);
    try {
      const dec = stageCaptionRunner(stage, session);
      const feats = await npy('ref_features.npy');
      const ids = BigInt64Array.from([101, 7, 55, 23, 101, 7, 55, 23].map(BigInt));
      const res = await dec.run(
        {
          prompt_features: new ort.Tensor('float32', feats.data as Float32Array, [2, 5, 32]),
          input_ids: new ort.Tensor('int64', ids, [2, 4]),
          past_key_values: new ort.Tensor('float32', new Float32Array(0), [4, 2, 4, 0, 8]),
        },
        ['logits', 'present_key_values'],
      );
      const ref = await npy('ref_logits.npy');
      expect([...res.logits.dims]).toEqual([2, 4, 120]);
      expect(maxAbsDiff(res.logits.data as Float32Array, ref.data as Float32Array)).toBeLessThan(1e-4);
      expect([...res.present_key_values.dims]).toEqual([4, 2, 4, 9, 8]); // 5 image + 4 text positions
    } finally {
      await session.release();
    }
  });

  it('run-stage (plain arrays) runs the first cached call (an empty past: the reference logits) and a later one (the past it returned, one token, no image rows); an empty batch is refused', async () => {
    const { store } = await packTiny();
    const stage = await loadPackStage(store, 'captionDecoder');
    const feats = await npy('ref_features.npy');
    const ids = readNpy(writeNpy(Int32Array.from([101, 7, 55, 23, 101, 7, 55, 23]), [2, 4], '<i4'));
    const past = (batch: number) => readNpy(writeNpy(new Float32Array(0), [4, batch, 4, 0, 8]));
    const r = await runStage(stage, { prompt_features: feats, input_ids: ids, past_key_values: past(2) });
    expect(r.bind).toMatchObject({ batch: 2, image_tokens: 5, seq: 4, past: 0 });
    expect(maxAbsDiff(r.outputs.logits.data as Float32Array, (await npy('ref_logits.npy')).data as Float32Array)).toBeLessThan(1e-4);
    expect(r.outputs.present_key_values.dims).toEqual([4, 2, 4, 9, 8]);
    // Step k from Python: the previous call's present_key_values as past, the next token only, and
    // no image rows (they are in the cache): the logits of the uncached 4-token run's last position.
    const step1 = await runStage(stage, { prompt_features: feats, input_ids: readNpy(writeNpy(Int32Array.from([101, 7, 55, 101, 7, 55]), [2, 3], '<i4')), past_key_values: past(2) });
    expect(step1.outputs.present_key_values.dims).toEqual([4, 2, 4, 8, 8]);
    const present = step1.outputs.present_key_values;
    const stepK = await runStage(stage, {
      prompt_features: readNpy(writeNpy(new Float32Array(0), [2, 0, 32])),
      input_ids: readNpy(writeNpy(Int32Array.from([23, 23]), [2, 1], '<i4')),
      past_key_values: readNpy(writeNpy(present.data as Float32Array, present.dims)),
    });
    expect(stepK.bind).toMatchObject({ batch: 2, image_tokens: 0, seq: 1, past: 8 });
    const V = 120;
    const full = r.outputs.logits.data as Float32Array;
    const lastOfFull = Float32Array.from({ length: 2 * V }, (_, i) => full[Math.floor(i / V) * 4 * V + 3 * V + (i % V)]);
    expect(maxAbsDiff(stepK.outputs.logits.data as Float32Array, lastOfFull)).toBeLessThan(1e-4);
    expect(stepK.outputs.present_key_values.dims).toEqual([4, 2, 4, 9, 8]);
    const empty = { prompt_features: readNpy(writeNpy(new Float32Array(0), [0, 5, 32])), input_ids: readNpy(writeNpy(new Int32Array(0), [0, 4], '<i4')), past_key_values: past(0) };
    await expect(runStage(stage, empty)).rejects.toThrow(/dim 0 \("batch"\) is 0 \(expected at least 1\)/);
  });

  it('greedy captions: the reference token ids, with the cache (one step per token) and without', async () => {
    const { stage, vocab } = await tinyDecoder();
    expect(vocab.length).toBe(120);
    const [ref0, ref1] = await refIds();
    expect(ref0.at(-1)).toBe(102); // row 0 stops at [SEP] ...
    expect(ref1.length).toBe(21); // ... row 1 runs the full 20 tokens
    const rows = await captionFeatures(stage, vocab, await npy('ref_features.npy'), { maxTokens: 20 });
    expect(rows.map((r) => r.tokens)).toEqual([captionOf(ref0), captionOf(ref1)]);
    expect(rows[0].caption).toBe('an group');

    // Without the cache: the same graph re-run on the whole prefix each token (empty past), as the plain contract does.
    const session = await openStageSession(stage);
    try {
      const cached = stageCaptionRunner(stage, session);
      let calls = 0;
      const plain: CaptionDecoderRunner = {
        ...cached,
        spec: { ...cached.spec, settings: { ...cached.spec.settings, kvCache: undefined } },
        run: (feeds, outputs) => {
          calls++;
          return cached.run({ ...feeds, past_key_values: new ort.Tensor('float32', new Float32Array(0), [4, 1, 4, 0, 8]) }, outputs);
        },
      };
      const feats = (await npy('ref_features.npy')).data as Float32Array;
      expect(await greedyCaption(plain, feats.slice(5 * 32), 20)).toEqual(captionOf(ref1));
      expect(calls).toBe(20);
      // With the cache, each call after the first feeds one token and no image rows.
      const seen: number[][] = [];
      const spy: CaptionDecoderRunner = { ...cached, run: (feeds, outputs) => (seen.push([feeds.prompt_features.dims[1], feeds.input_ids.dims[1], feeds.past_key_values.dims[3]]), cached.run(feeds, outputs)) };
      expect(await greedyCaption(spy, feats.slice(5 * 32), 20)).toEqual(captionOf(ref1));
      expect(seen.slice(0, 3)).toEqual([[5, 1, 0], [0, 1, 6], [0, 1, 7]]);
      expect(seen.length).toBe(20);
    } finally {
      await session.release();
    }
  });

  it("the pipeline's decodeCaption takes the cached path for this stage (PackSessions, external weights)", async () => {
    const { stage, vocab } = await tinyDecoder();
    // Only what the caption step reads of a loaded pack: the stage's spec, graph, weights and the vocabulary.
    const pack = { manifest: { stages: { captionDecoder: stage.spec } }, onnx: { captionDecoder: stage.onnx }, externalData: { captionDecoder: stage.externalData }, vocab } as unknown as LoadedModelPack;
    const sessions = new PackSessions(pack);
    try {
      const feats = (await npy('ref_features.npy')).data as Float32Array;
      const steps: number[] = [];
      const io = new Transfers();
      const r = await decodeCaption(sessions, feats.slice(5 * 32), 20, undefined, (s) => steps.push(s), io);
      const [, ref1] = await refIds();
      expect(r.captionTokens).toEqual(captionOf(ref1));
      expect(r.caption).toMatch(/^groupn bird group bathroom /); // '##n' glued to 'group'
      expect(steps).toEqual([...Array.from({ length: 20 }, (_, i) => i), 20]);
    } finally {
      await sessions.dispose();
    }
  });

  it('float16 builds of both stages (variants.float16): within half precision of the reference, same captions', async () => {
    const { store, manifest } = await packTiny('model.safetensors', 'both');
    expect(Object.keys(manifest.stages.imageEncoder?.variants ?? {})).toEqual(['float16']);
    expect(Object.keys(manifest.stages.captionDecoder?.variants ?? {})).toEqual(['float16']);
    const relDiff = (a: Float32Array, b: Float32Array) => maxAbsDiff(a, b) / b.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    const enc = await loadPackStage(store, 'imageEncoder', { variant: 'float16' });
    const r = await runStage(enc, { pixel_values: await npy('pixel_values.npy') });
    expect(relDiff(r.outputs.last_hidden_state.data as Float32Array, (await npy('ref_features.npy')).data as Float32Array)).toBeLessThan(5e-3);
    const dec = await loadPackStage(store, 'captionDecoder', { variant: 'float16' });
    const rows = await captionFeatures(dec, await loadCaptionVocab(store, dec), await npy('ref_features.npy'));
    const [ref0, ref1] = await refIds();
    expect(rows.map((x) => x.tokens)).toEqual([captionOf(ref0), captionOf(ref1)]);
  });

  it('pytorch_model.bin gives the same captions as model.safetensors', async () => {
    const { store } = await packTiny('pytorch_model.bin');
    const stage = await loadPackStage(store, 'captionDecoder');
    const rows = await captionFeatures(stage, await loadCaptionVocab(store, stage), await npy('ref_features.npy'));
    const [ref0, ref1] = await refIds();
    expect(rows.map((r) => r.tokens)).toEqual([captionOf(ref0), captionOf(ref1)]);
  });
});

describe('GiT checks and parameter count', () => {
  it('counts GiT-large-coco from its config: 394,196,026 (the 394M published for microsoft/git-large-coco)', () => {
    const p = gitParamCount(GIT_LARGE_COCO);
    expect(p.imageEncoder).toBe(303_179_776); // CLIP ViT-L/14 tower without projection
    expect(p.textDecoder).toBe(91_016_250);
    expect(p.total).toBe(394_196_026);
    expect(Math.round(p.total / 1e6)).toBe(394);
    checkGitCheckpoint(shapesOnly(allShapes(GIT_LARGE_COCO)), GIT_LARGE_COCO); // the full-size key table passes its own check
  });

  it('names a GiT-base checkpoint given for GiT-large, and a CLIP checkpoint given for GiT', () => {
    expect(() => checkGitCheckpoint(shapesOnly(allShapes(GIT_BASE)), GIT_LARGE_COCO)).toThrow(
      /model\.safetensors: tensor git\.image_encoder\.vision_model\.embeddings\.patch_embedding\.weight: the checkpoint is GiT-base \(vision width 768, patch 16, 12 vision layers.*\(expected GiT-large/,
    );
    const clip = shapesOnly(new Map([['vision_model.embeddings.patch_embedding.weight', [1024, 3, 14, 14]]]));
    expect(() => checkGitCheckpoint(clip, GIT_LARGE_COCO)).toThrow(/this is a CLIP checkpoint, not GiT/);
  });

  it('missing and misshapen tensors are named with the file', () => {
    const shapes = allShapes(GIT_LARGE_COCO);
    expect(() => checkGitCheckpoint(shapesOnly(shapes, ['git.encoder.layer.3.attention.self.key.bias']), GIT_LARGE_COCO)).toThrow(/model\.safetensors: tensor git\.encoder\.layer\.3\.attention\.self\.key\.bias: missing tensor \(expected shape \[768\]/);
    expect(() => checkGitCheckpoint(shapesOnly(shapes, [], { 'output.weight': [30522, 512] }), GIT_LARGE_COCO)).toThrow(/model\.safetensors: tensor output\.weight: shape \[30522, 512\] \(expected \[30522, 768\]/);
    expect(() => checkGitCheckpoint(shapesOnly(shapes, ['git.image_encoder.vision_model.post_layernorm.bias']), GIT_LARGE_COCO)).toThrow(/tensor git\.image_encoder\.vision_model\.post_layernorm\.bias: missing tensor/);
  });

  it('a truncated model.safetensors fails naming the file and the first tensor whose bytes are missing', async () => {
    const bytes = await fixture('model.safetensors');
    const cut = bytes.slice(0, bytes.length - 1000);
    await expect(openCheckpoint(memFolder({ 'model.safetensors': cut }))).rejects.toThrow(/git-tiny\/model\.safetensors.*tensor /);
  });

  it('config.json of another decoder, and a vocabulary of the wrong size, are refused by name', async () => {
    const cfg = JSON.parse(new TextDecoder().decode(await fixture('config.json'))) as Record<string, unknown>;
    const ck = await openCheckpoint(memFolder({ 'model.safetensors': await fixture('model.safetensors'), 'config.json': new TextEncoder().encode(JSON.stringify({ ...cfg, hidden_act: 'relu' })) }));
    expect(() => checkGitCheckpoint(ck, TINY)).toThrow(/git-tiny\/config\.json: hidden_act: hidden_act relu \(expected gelu/);
    const short = new TextDecoder().decode(await fixture('vocab.txt')).split('\n').slice(0, 100).join('\n');
    await expect(readGitVocab(memFolder({ 'vocab.txt': new TextEncoder().encode(short) }), TINY)).rejects.toThrow(/git-tiny\/vocab\.txt: 100 tokens \(expected 120/);
    await expect(readGitVocab(memFolder({}), TINY)).rejects.toThrow(/no vocabulary/);
  });
});
