// `mirage pack clip`: the CLIP vision tower built from a checkpoint with the official HF key names,
// compared with openai/CLIP's reference implementation run on the same random checkpoint
// (test/fixtures/packs/README.md), at reduced width and depth of the same config-driven builder.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/core/bundle/memoryStore.ts';
import { bytesSource } from '../../../src/core/formats/byteSource.ts';
import { encodeSafetensors, openSafetensors } from '../../../src/core/formats/safetensors.ts';
import { openCheckpoint, type Checkpoint, type CheckpointFolder } from '../../../src/core/generate/packers/checkpoint.ts';
import { checkClipCheckpoint, clipParamCount, clipVisionShapes, CLIP_VIT_B32, CLIP_VIT_L14, type ClipVisionConfig } from '../../../src/core/generate/packers/clip.ts';
import { packClip } from '../../../src/core/generate/packers/clipPack.ts';
import { runStage } from '../../../src/core/generate/packers/runStage.ts';
import { loadPackStage } from '../../../src/core/generate/packers/stagePack.ts';
import { readNpy } from '../../../src/core/tensor/npy.ts';

const DIR = join(import.meta.dirname, '../../fixtures/packs/clip-tiny');
const TINY: ClipVisionConfig = { name: 'tiny', imageSize: 28, patchSize: 14, width: 32, layers: 2, heads: 4, mlp: 128, projectionDim: 16, layerNormEps: 1e-5 };

/** A folder in memory (what fsTree gives the CLI). */
function memFolder(files: Record<string, Uint8Array>, label = 'clip-tiny'): CheckpointFolder {
  return { label, open: async (p) => (files[p] ? bytesSource(files[p], `${label}/${p}`) : null) };
}
async function fixture(name: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(join(DIR, name)));
}
async function npy(name: string) {
  return readNpy(await fixture(name), name);
}
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function packAndRun(ck: Checkpoint, opts: { maxFileBytes?: number } = {}) {
  const store = new MemoryStore('pack');
  const manifest = await packClip(ck, store, { config: TINY, createdAt: 'fixed', ...opts });
  const stage = await loadPackStage(store, 'imageEncoder');
  const r = await runStage(stage, { pixel_values: await npy('pixel_values.npy') });
  return { manifest, store, stage, r };
}

describe('CLIP vision pack vs the reference implementation (reduced config)', () => {
  it('model.safetensors: last_hidden_state and image_embeds equal openai/CLIP to float32 rounding', async () => {
    const ck = await openCheckpoint(memFolder({ 'model.safetensors': await fixture('model.safetensors'), 'config.json': await fixture('config.json') }));
    const { manifest, r } = await packAndRun(ck);
    const refH = await npy('ref_last_hidden_state.npy');
    const refE = await npy('ref_image_embeds.npy');
    expect(r.outputs.last_hidden_state.dims).toEqual(refH.shape);
    expect(r.outputs.image_embeds.dims).toEqual(refE.shape);
    expect(maxAbsDiff(r.outputs.last_hidden_state.data as Float32Array, refH.data as Float32Array)).toBeLessThan(2e-5);
    expect(maxAbsDiff(r.outputs.image_embeds.data as Float32Array, refE.data as Float32Array)).toBeLessThan(2e-5);
    expect(manifest.stages.imageEncoder?.settings.parameters).toBe(clipParamCount(TINY).total);
    expect(manifest.provenance.kind).toBe('real');
  });

  it('pytorch_model.bin (torch.save zip) gives the same graph outputs as the safetensors file', async () => {
    const ck = await openCheckpoint(memFolder({ 'pytorch_model.bin': await fixture('pytorch_model.bin') }));
    expect(ck.tensors.get('vision_model.pre_layrnorm.weight')?.dtype).toBe('float32');
    const { r } = await packAndRun(ck);
    const refE = await npy('ref_image_embeds.npy');
    expect(maxAbsDiff(r.outputs.image_embeds.data as Float32Array, refE.data as Float32Array)).toBeLessThan(2e-5);
  });

  it('splits the weights into external-data files under the limit, none above it, and runs from them', async () => {
    const ck = await openCheckpoint(memFolder({ 'model.safetensors': await fixture('model.safetensors') }));
    const limit = 20_000; // the largest tensor (fc1, 16 KiB; patch conv, 74 KiB is not: see below)
    await expect(packAndRun(ck, { maxFileBytes: limit })).rejects.toThrow(/vision_model\.embeddings\.patch_embedding\.weight: 75264 bytes exceed the 20000-byte data file limit/);
    const { manifest, stage, r } = await packAndRun(ck, { maxFileBytes: 80_000 });
    const data = manifest.stages.imageEncoder?.data ?? [];
    expect(data.length).toBeGreaterThan(1);
    for (const p of data) expect(manifest.files.find((f) => f.path === p)!.bytes).toBeLessThanOrEqual(80_000);
    expect(stage.externalData.map((d) => d.path)).toEqual(data.map((p) => p.replace('models/', '')));
    const graph = manifest.files.find((f) => f.path === manifest.stages.imageEncoder?.file)!;
    expect(graph.bytes).toBeLessThan(40_000); // the graph alone; the weights (~180 KB) are outside it
    const refH = await npy('ref_last_hidden_state.npy');
    expect(maxAbsDiff(r.outputs.last_hidden_state.data as Float32Array, refH.data as Float32Array)).toBeLessThan(2e-5);
  });
});

describe('float16 variant in the same pack', () => {
  it('packs float32 and float16 graphs together; the float16 one (chosen at load) has half the weight bytes and matches the reference to half precision', async () => {
    const ck = await openCheckpoint(memFolder({ 'model.safetensors': await fixture('model.safetensors') }));
    const store = new MemoryStore('pack');
    const manifest = await packClip(ck, store, { config: TINY, precision: 'both' });
    const st = manifest.stages.imageEncoder!;
    const bytes = (ps: string[] | undefined) => (ps ?? []).reduce((a, p) => a + manifest.files.find((f) => f.path === p)!.bytes, 0);
    expect(st.settings.precision).toBe('float32');
    expect(Object.keys(st.variants ?? {})).toEqual(['float16']);
    const f32 = bytes(st.data);
    const f16 = bytes(st.variants!.float16.data);
    expect(Math.abs(f16 - f32 / 2)).toBeLessThan(0.01 * f32);
    const half = await loadPackStage(store, 'imageEncoder', { variant: 'float16' });
    expect(half.spec.file).toBe(st.variants!.float16.file);
    expect(half.spec.outputs.image_embeds.dtype).toBe('float32'); // same contract: float32 in and out
    const r = await runStage(half, { pixel_values: await npy('pixel_values.npy') });
    for (const role of ['last_hidden_state', 'image_embeds']) {
      const ref = (await npy(`ref_${role}.npy`)).data as Float32Array;
      const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const err = maxAbsDiff(r.outputs[role].data as Float32Array, ref);
      expect(err).toBeLessThan(5e-3 * scale); // float16 keeps 11 significant bits (~5e-4 relative per operation)
      expect(err).toBeGreaterThan(1e-6 * scale); // and it really ran in half precision
    }
    await expect(loadPackStage(store, 'imageEncoder', { variant: 'int8' })).rejects.toThrow(/stage imageEncoder has no variant "int8" \(expected float16\)/);
  });
});

describe('CLIP checkpoint checks', () => {
  /** A checkpoint of shapes only (the checks never read values). */
  function shapesOnly(shapes: Map<string, number[]>, file = 'model.safetensors'): Checkpoint {
    const tensors = new Map([...shapes].map(([name, shape]) => [name, { name, shape, dtype: 'F32', file }]));
    return { label: 'ckpt', files: [file], tensors, read: () => Promise.reject(new Error('not read')) };
  }

  it('parameter count of the full ViT-L/14 config equals the published figure', () => {
    const n = clipParamCount(CLIP_VIT_L14);
    // open_clip's model profile lists ViT-L-14's image tower (with its projection) at 303.97 M and
    // ViT-B-32's at 87.85 M parameters; counted here from the configs, no weights.
    expect(n.total).toBe(303_966_208);
    expect(Math.round(n.total / 1e4) / 100).toBe(303.97);
    expect(n.projection).toBe(1024 * 768);
    expect(Math.round(clipParamCount(CLIP_VIT_B32).total / 1e4) / 100).toBe(87.85);
  });

  it('names a ViT-B/32 checkpoint given for ViT-L/14', () => {
    expect(() => checkClipCheckpoint(shapesOnly(clipVisionShapes(CLIP_VIT_B32)), CLIP_VIT_L14)).toThrow(
      'model.safetensors: tensor vision_model.embeddings.patch_embedding.weight: the checkpoint is CLIP ViT-B/32 (width 768, 12 layers, patch 32, 224 px, projection 512) (expected CLIP ViT-L/14 (width 1024, 24 layers, patch 14, 224 px, projection 768))',
    );
  });

  it('names a missing or misshapen tensor, and a checkpoint without a vision tower', () => {
    const s = clipVisionShapes(TINY);
    const missing = new Map(s);
    missing.delete('vision_model.encoder.layers.1.mlp.fc2.bias');
    expect(() => checkClipCheckpoint(shapesOnly(missing), TINY)).toThrow(/tensor vision_model\.encoder\.layers\.1\.mlp\.fc2\.bias: missing tensor \(expected shape \[32\]/);
    const bad = new Map(s).set('vision_model.encoder.layers.0.self_attn.v_proj.weight', [32, 16]);
    expect(() => checkClipCheckpoint(shapesOnly(bad), TINY)).toThrow(/model\.safetensors: tensor vision_model\.encoder\.layers\.0\.self_attn\.v_proj\.weight: shape \[32, 16\] \(expected \[32, 32\]/);
    const openai = shapesOnly(new Map([['visual.conv1.weight', [1024, 3, 14, 14]]]), 'ViT-L-14.pt');
    expect(() => checkClipCheckpoint(openai, CLIP_VIT_L14)).toThrow(/no CLIP vision tower \(this looks like an OpenAI CLIP \.pt state dict/);
  });

  it('names the file and the tensor of a truncated download (safetensors), and refuses a truncated pytorch_model.bin', async () => {
    const st = await fixture('model.safetensors');
    const cut = st.subarray(0, st.byteLength - 1000);
    await expect(openCheckpoint(memFolder({ 'model.safetensors': cut }))).rejects.toThrow(
      /clip-tiny\/model\.safetensors: tensor visual_projection\.weight\.data_offsets: data ends at byte \d+, the file has \d+ \(truncated\?\)/,
    );
    const bin = await fixture('pytorch_model.bin');
    await expect(openCheckpoint(memFolder({ 'pytorch_model.bin': bin.subarray(0, bin.byteLength - 1000) }))).rejects.toThrow(/clip-tiny\/pytorch_model\.bin/);
  });

  it('refuses a config.json whose heads or activation differ', async () => {
    const cfg = JSON.parse(new TextDecoder().decode(await fixture('config.json')));
    cfg.vision_config.num_attention_heads = 8;
    const ck = await openCheckpoint(memFolder({ 'model.safetensors': await fixture('model.safetensors'), 'config.json': new TextEncoder().encode(JSON.stringify(cfg)) }));
    expect(() => checkClipCheckpoint(ck, TINY)).toThrow(/clip-tiny\/config\.json: vision_config\.num_attention_heads: num_attention_heads 8 \(expected 4 \(tiny\)\)/);
  });

  it('reads a sharded HF folder through its index, and says what it looked for in an empty one', async () => {
    const whole = await openSafetensors(bytesSource(await fixture('model.safetensors'), 'model.safetensors'));
    const ck0 = await openCheckpoint(memFolder({ 'model.safetensors': await fixture('model.safetensors') }));
    const names = [...whole.tensors.keys()];
    const half = Math.floor(names.length / 2);
    const shard = async (ns: string[]) => encodeSafetensors(await Promise.all(ns.map(async (n) => ({ name: n, dtype: 'F32' as const, shape: whole.tensors.get(n)!.shape, data: await ck0.read(n) }))));
    const files = {
      'model-00001-of-00002.safetensors': await shard(names.slice(0, half)),
      'model-00002-of-00002.safetensors': await shard(names.slice(half)),
      'model.safetensors.index.json': new TextEncoder().encode(JSON.stringify({ weight_map: Object.fromEntries(names.map((n, i) => [n, i < half ? 'model-00001-of-00002.safetensors' : 'model-00002-of-00002.safetensors'])) })),
    };
    const ck = await openCheckpoint(memFolder(files));
    expect(ck.files).toHaveLength(2);
    const { r } = await packAndRun(ck);
    const refE = await npy('ref_image_embeds.npy');
    expect(maxAbsDiff(r.outputs.image_embeds.data as Float32Array, refE.data as Float32Array)).toBeLessThan(2e-5);
    await expect(openCheckpoint(memFolder({}, 'empty'))).rejects.toThrow(/empty: no weights found \(expected a Hugging Face model folder with model\.safetensors, pytorch_model\.bin/);
  });
});
