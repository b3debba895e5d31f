// `mirage pack clip` from a transformers.js-style folder (onnx/vision_model.onnx, optionally
// vision_model_fp16.onnx): the export's signature is checked against the config and the graph wrapped
// unchanged. The exports here are our own graphs of the fixture checkpoint saved under those names,
// so the wrapped stage must still equal the reference outputs.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/core/bundle/memoryStore.ts';
import { bytesSource } from '../../../src/core/formats/byteSource.ts';
import { openCheckpoint, type CheckpointFolder } from '../../../src/core/generate/packers/checkpoint.ts';
import { buildClipVisionGraph, CLIP_VIT_L14, type ClipVisionConfig } from '../../../src/core/generate/packers/clip.ts';
import { packClipOnnx } from '../../../src/core/generate/packers/clipOnnx.ts';
import { runStage } from '../../../src/core/generate/packers/runStage.ts';
import { loadPackStage } from '../../../src/core/generate/packers/stagePack.ts';
import { readNpy } from '../../../src/core/tensor/npy.ts';

const DIR = join(import.meta.dirname, '../../fixtures/packs/clip-tiny');
const TINY: ClipVisionConfig = { name: 'tiny', imageSize: 28, patchSize: 14, width: 32, layers: 2, heads: 4, mlp: 128, projectionDim: 16, layerNormEps: 1e-5 };
const folder = (files: Record<string, Uint8Array>): CheckpointFolder => ({ label: 'xenova-clip', open: async (p) => (files[p] ? bytesSource(files[p], `xenova-clip/${p}`) : null) });
const npy = async (n: string) => readNpy(new Uint8Array(await readFile(join(DIR, n))), n);

let f32: Uint8Array;
let f16: Uint8Array;
let split: { model: Uint8Array; files: { name: string; bytes: Uint8Array }[] };
beforeAll(async () => {
  const ck = await openCheckpoint(folder({ 'model.safetensors': new Uint8Array(await readFile(join(DIR, 'model.safetensors'))) }));
  f32 = (await buildClipVisionGraph(ck, TINY)).toBytes();
  f16 = (await buildClipVisionGraph(ck, TINY, { precision: 'float16' })).toBytes();
  split = (await buildClipVisionGraph(ck, TINY)).toBytesWithExternalData({ fileName: () => 'vision_model.onnx_data', maxFileBytes: 1 << 20 });
});

async function embedsError(store: MemoryStore, variant?: string): Promise<number> {
  const r = await runStage(await loadPackStage(store, 'imageEncoder', { variant }), { pixel_values: await npy('pixel_values.npy') });
  const ref = (await npy('ref_image_embeds.npy')).data as Float32Array;
  const got = r.outputs.image_embeds.data as Float32Array;
  return ref.reduce((m, v, i) => Math.max(m, Math.abs(v - got[i])), 0);
}

describe('packClipOnnx (transformers.js folder)', () => {
  it('wraps vision_model.onnx and vision_model_fp16.onnx as the stage and its float16 variant', async () => {
    const store = new MemoryStore('pack');
    const m = await packClipOnnx(folder({ 'onnx/vision_model.onnx': f32, 'onnx/vision_model_fp16.onnx': f16 }), store, { config: TINY });
    expect(m.stages.imageEncoder?.file).toBe('models/vision_model.onnx');
    expect(m.stages.imageEncoder?.variants?.float16.file).toBe('models/float16/vision_model_fp16.onnx');
    expect(m.provenance.kind).toBe('real');
    expect(await embedsError(store)).toBeLessThan(2e-5);
    expect(await embedsError(store, 'float16')).toBeLessThan(5e-2);
  });

  it("carries the exporter's external-data file along", async () => {
    const store = new MemoryStore('pack');
    const m = await packClipOnnx(folder({ 'onnx/vision_model.onnx': split.model, 'onnx/vision_model.onnx_data': split.files[0].bytes }), store, { config: TINY });
    expect(m.stages.imageEncoder?.data).toEqual(['models/vision_model.onnx_data']);
    expect(await embedsError(store)).toBeLessThan(2e-5);
    await expect(packClipOnnx(folder({ 'onnx/vision_model.onnx': split.model }), new MemoryStore(), { config: TINY })).rejects.toThrow(
      /xenova-clip\/onnx\/vision_model\.onnx_data: file not found \(expected the external data onnx\/vision_model\.onnx refers to\)/,
    );
  });

  it('refuses an export of another size or with other outputs, naming the file and the value', async () => {
    await expect(packClipOnnx(folder({ 'onnx/vision_model.onnx': f32 }), new MemoryStore())).rejects.toThrow(
      /xenova-clip\/onnx\/vision_model\.onnx: graph\.inputs\.pixel_values: float32 \[batch, 3, 28, 28\] \(expected input "pixel_values" float32 \[batch, 3, 224, 224\] \(CLIP ViT-L\/14/,
    );
    expect(CLIP_VIT_L14.imageSize).toBe(224);
    await expect(packClipOnnx(folder({ 'onnx/vision_model.onnx': f32.subarray(0, 5000) }), new MemoryStore(), { config: TINY })).rejects.toThrow(/vision_model\.onnx: not a readable ONNX model/);
    await expect(packClipOnnx(folder({}), new MemoryStore(), { config: TINY })).rejects.toThrow(/xenova-clip\/onnx\/vision_model\.onnx: file not found/);
  });
});
