// `mirage run-stage` on the stand-in pack: arrays in by role, arrays out by role, every input
// checked against the stage's declared dtypes and shapes (errors name the file and the field).
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/core/bundle/memoryStore.ts';
import { buildStandInPack, REAL } from '../../../src/core/generate/standInPack.ts';
import { loadPackStage } from '../../../src/core/generate/packers/stagePack.ts';
import { runStage } from '../../../src/core/generate/packers/runStage.ts';
import { createSession, ort } from '../../../src/core/onnx/runtime.ts';
import { readNpy, writeNpy, type NpyArray } from '../../../src/core/tensor/npy.ts';
import { runStageCommand } from '../../../src/node/runStageFiles.ts';

const store = new MemoryStore('stand-in');
beforeAll(async () => {
  await buildStandInPack(store, { seed: 3 });
});

function npy(data: Float32Array | Float64Array | Int32Array, shape: number[], dtype?: '<f4' | '<f8' | '<i8' | '<i4'): NpyArray {
  return readNpy(writeNpy(data, shape, dtype));
}

function ramp(n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * scale);
}

describe('runStage (stand-in pack)', () => {
  it('runs the image encoder on role-named arrays and returns both outputs by role, equal to the graph run directly', async () => {
    const st = await loadPackStage(store, 'imageEncoder');
    expect(st.packKind).toBe('model');
    const px = ramp(2 * 3 * 224 * 224);
    const r = await runStage(st, { pixel_values: npy(px, [2, 3, 224, 224]) });
    expect(r.bind).toEqual({ batch: 2 });
    expect(r.outputs.last_hidden_state.dims).toEqual([2, REAL.clipTokens, REAL.clipHidden]);
    expect(r.outputs.image_embeds.dims).toEqual([2, REAL.clipImage]);
    const s = await createSession(st.onnx);
    const direct = await s.run({ pixel_values: new ort.Tensor('float32', px, [2, 3, 224, 224]) });
    await s.release();
    expect(Array.from(r.outputs.last_hidden_state.data as Float32Array)).toEqual(Array.from(direct.last_hidden_state.data as Float32Array));
    expect(Array.from(r.outputs.image_embeds.data as Float32Array)).toEqual(Array.from(direct.image_embeds.data as Float32Array));
  });

  it('takes numpy defaults: float64 features rounded to float32, int64 token ids', async () => {
    const st = await loadPackStage(store, 'captionDecoder');
    const feats = Float64Array.from(ramp(257 * 1024, 0.5));
    const ids = Float64Array.from([101, 2000, 2001]);
    const r = await runStage(st, { prompt_features: npy(feats, [1, 257, 1024], '<f8'), input_ids: npy(ids, [1, 3], '<i8') });
    expect(r.outputs.logits.dims).toEqual([1, 3, REAL.gitVocab]);
    const s = await createSession(st.onnx);
    const direct = await s.run({
      prompt_features: new ort.Tensor('float32', Float32Array.from(feats), [1, 257, 1024]),
      input_ids: new ort.Tensor('int64', BigInt64Array.from([101n, 2000n, 2001n]), [1, 3]),
    });
    await s.release();
    expect((r.outputs.logits.data as Float32Array).slice(0, 50)).toEqual((direct.logits.data as Float32Array).slice(0, 50));
  });

  it('refuses wrong inputs with the file, the field and what was expected', async () => {
    const dec = await loadPackStage(store, 'latentDecoder');
    const x = npy(ramp(4 * 256 * 256), [1, 4, 256, 256]);
    const ok = { x, r: npy(new Float32Array([0.5]), [1]), effnet: npy(ramp(16 * 24 * 24), [1, 16, 24, 24]), clip: npy(ramp(1280), [1, 1, 1280]) };
    const { clip, ...noClip } = ok;
    void clip;
    await expect(runStage(dec, noClip)).rejects.toThrow(/clip\.npy: input role "clip" of stage latentDecoder was not given/);
    await expect(runStage(dec, { ...ok, extra: x })).rejects.toThrow(/"extra" is not an input role of stage latentDecoder \(expected roles x, r, effnet, clip\)/);
    await expect(runStage(dec, { ...ok, effnet: npy(ramp(16 * 12 * 12), [1, 16, 12, 12]) }, { files: { effnet: 'in/effnet.npy' } })).rejects.toThrow(
      /in\/effnet\.npy: header\.shape: shape \[1, 16, 12, 12\]: dim 2 is 12 \(expected 24/,
    );
    await expect(runStage(dec, { ...ok, r: npy(new Float32Array([0.5, 0.5]), [2]) })).rejects.toThrow(/dim 0 \("batch"\) is 2, but x\.npy gave 1/);
    const cap = await loadPackStage(store, 'captionDecoder');
    await expect(runStage(cap, { prompt_features: npy(ramp(257 * 1024), [1, 257, 1024]), input_ids: npy(new Float32Array([101]), [1, 1]) })).rejects.toThrow(
      /input_ids\.npy: header\.descr: dtype <f4 \(expected integers for input_ids \(int64/,
    );
  });

  it('names the stages a pack has, and refuses a file whose checksum does not match', async () => {
    await expect(loadPackStage(store, 'stageC')).rejects.toThrow(/no stage "stageC" \(expected lowLevelDecoder, latentEncoder/);
    const bad = new MemoryStore('tampered');
    for (const [k, v] of store.files) bad.files.set(k, new Uint8Array(v)); // a copy (protobufjs hands out Buffers, whose slice() is a view)
    const f = bad.files.get('models/stage_a.onnx')!;
    f[f.length - 1] ^= 1;
    await expect(loadPackStage(bad, 'pixelDecoder')).rejects.toThrow(/models\/stage_a\.onnx: files\[\]\.sha256: sha256 [0-9a-f]+ does not match/);
  });
});

describe('mirage run-stage (files on disk)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'run-stage-'));
    for (const [k, v] of store.files) {
      await mkdir(join(dir, 'pack', k, '..'), { recursive: true });
      await writeFile(join(dir, 'pack', k), v);
    }
    await mkdir(join(dir, 'in'));
    await writeFile(join(dir, 'in', 'latents.npy'), writeNpy(ramp(2 * 4 * 256 * 256, 0.3), [2, 4, 256, 256]));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads <role>.npy, writes <output role>.npy', async () => {
    const r = await runStageCommand({ models: join(dir, 'pack'), stage: 'pixelDecoder', inputs: join(dir, 'in'), out: join(dir, 'out') });
    expect(r.outputs.images.shape).toEqual([2, 3, 1024, 1024]);
    const out = readNpy(new Uint8Array(await readFile(join(dir, 'out', 'images.npy'))));
    expect(out.shape).toEqual([2, 3, 1024, 1024]);
    const v = out.data as Float32Array;
    expect(v.every((p) => p > 0 && p < 1)).toBe(true); // stage A's sigmoid
  });
});
