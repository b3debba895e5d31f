// The low-level re-decode: the blurry head's prediction through the demo's low-level decoder (the
// real ONNX graph src/core/simulate/encoders.ts builds, run with onnxruntime-web's wasm EP).
import { describe, expect, it } from 'vitest';
import { LinearChangeEngine } from '../../../src/core/cortex/engine.ts';
import { LowLevelDecoder, LowLevelRedecoder, readLowLevelDecoder, type LowLevelDecoderFile } from '../../../src/core/cortex/lowLevel.ts';
import { sha256Hex } from '../../../src/core/bundle/sha256.ts';
import type { ShardSource } from '../../../src/core/bundle/source.ts';
import { buildEncoderGraphs } from '../../../src/core/simulate/encoders.ts';
import { makeHead, randn, rng } from './helpers.ts';

const graphs = buildEncoderGraphs(1, null);
const bytes = graphs.bytes.lowlevel_decoder;
const info = graphs.info.find((i) => i.name === 'lowlevel_decoder')!;
const N = info.inputs[0].shape[1] as number;

function memSource(files: Record<string, Uint8Array>): ShardSource {
  return {
    label: 'mem',
    async read(path) {
      const f = files[path];
      if (!f) throw new Error(`${path}: not found`);
      return f;
    },
  };
}

async function listing(extra: Partial<{ sha256: string }> = {}): Promise<Record<string, Uint8Array>> {
  const json = {
    kind: 'simulated',
    models: [{ name: 'lowlevel_decoder', file: info.file, bytes: bytes.byteLength, sha256: extra.sha256 ?? (await sha256Hex(bytes)), inputs: info.inputs, outputs: info.outputs }],
  };
  return { 'models/models.json': new TextEncoder().encode(JSON.stringify(json)), [info.file]: bytes };
}

describe('low-level re-decode', () => {
  it('reads the decoder from models/models.json, or says there is none', async () => {
    const r = await readLowLevelDecoder(memSource(await listing()));
    expect(r.decoder?.latents).toBe(N);
    expect([r.decoder?.width, r.decoder?.height]).toEqual([64, 64]);
    const none = await readLowLevelDecoder(memSource({}));
    expect(none.decoder).toBeNull();
    expect(none.decoder === null && none.reason).toMatch(/no low-level decoder/);
    await expect(readLowLevelDecoder(memSource(await listing({ sha256: '0'.repeat(64) })))).rejects.toThrow(/sha256/);
  });

  it('an unchanged perturbation decodes to exactly the unperturbed image; a real change differs', async () => {
    const r = rng(7);
    const nVox = 200;
    const blurry = makeHead('blurry', nVox, 8, [N], r);
    const engine = new LinearChangeEngine([blurry], nVox);
    engine.setBaseline(randn(nVox, r));
    const file = (await readLowLevelDecoder(memSource(await listing()))).decoder as LowLevelDecoderFile;
    const redecoder = new LowLevelRedecoder(await LowLevelDecoder.create(file));

    // Empty region change (e.g. gain 1): the engine's perturbed prediction, decoded.
    const none = engine.change('blurry', { indices: new Int32Array(0), values: new Float32Array(0) });
    const same = await redecoder.images(engine.baseline('blurry').pred, engine.perturbed('blurry', none));
    expect(same.before.data.length).toBe(64 * 64 * 3);
    expect(Array.from(same.after.data)).toEqual(Array.from(same.before.data));

    // Silence a region of 50 voxels: the after-image moves, the before-image is the cached one.
    const x = engine.baselineActivity;
    const idx = Int32Array.from({ length: 50 }, (_, i) => i);
    const silence = engine.change('blurry', { indices: idx, values: Float32Array.from(idx, (i) => -x[i]) });
    const moved = await redecoder.images(engine.baseline('blurry').pred, engine.perturbed('blurry', silence));
    expect(moved.before).toBe(same.before);
    let diff = 0;
    for (let i = 0; i < moved.after.data.length; i++) diff += Math.abs(moved.after.data[i] - moved.before.data[i]);
    expect(diff).toBeGreaterThan(0);
  });

  it('createFastest keeps wasm when WebGPU cannot run (Node), says why, and decodes like create()', async () => {
    const file = (await readLowLevelDecoder(memSource(await listing()))).decoder as LowLevelDecoderFile;
    const fastest = await LowLevelDecoder.createFastest(file, { providers: ['webgpu'], probes: 2 });
    expect(fastest.executionProvider).toBe('wasm');
    expect(fastest.trials.map((t) => t.provider)).toEqual(['wasm', 'webgpu']);
    expect(fastest.trials[0].ms).toBeGreaterThan(0);
    expect(fastest.trials[1].ms).toBeNull();
    expect(fastest.trials[1].error).toBeTruthy();
    const latents = randn(N, rng(3), 0.5);
    const plain = await LowLevelDecoder.create(file);
    expect(Array.from((await fastest.decode(latents)).data)).toEqual(Array.from((await plain.decode(latents)).data));
  });
});
