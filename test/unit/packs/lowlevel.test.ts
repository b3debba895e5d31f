// `mirage lowlevel` on a packed VDVAE decoder (the reduced fixture): the random inputs are the
// pipeline's (row k from seed + k; prior noise scaled by the stage's priorTemperature, the mixture's
// uniform draws from their own streams), --deterministic uses the prior means and draws of 0.5 (the
// most likely component's mean), PNGs are VDVAE's uint8 conversion of px.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vdvaeToRgb } from '../../../src/core/base/image.ts';
import { batchNoise, batchUniform } from '../../../src/core/base/rng.ts';
import { bytesSource } from '../../../src/core/formats/byteSource.ts';
import { openCheckpoint } from '../../../src/core/generate/packers/checkpoint.ts';
import { runStage } from '../../../src/core/generate/packers/runStage.ts';
import { loadPackStage } from '../../../src/core/generate/packers/stagePack.ts';
import type { VdvaeConfig } from '../../../src/core/generate/packers/vdvae.ts';
import { packVdvae } from '../../../src/core/generate/packers/vdvaePack.ts';
import { readNpy, writeNpy, type NpyArray } from '../../../src/core/tensor/npy.ts';
import { decodePng, pngToRgb } from '../../../src/core/tensor/png.ts';
import { writeAtomically } from '../../../src/node/atomic.ts';
import { FsShardSource } from '../../../src/node/fsSource.ts';
import { runLowLevel } from '../../../src/node/lowlevelRun.ts';
import { decodeLowLevel, lowLevelRandomInputs } from '../../../src/core/generate/lowLevelImage.ts';
import type { PackSessions } from '../../../src/core/generate/sessions.ts';
import { Transfers } from '../../../src/core/generate/transfers.ts';
import { realStageSpecs } from '../../../src/core/generate/standInPack.ts';

const FIX = join(import.meta.dirname, '../../fixtures/packs/vdvae-tiny');
const TINY: VdvaeConfig = { name: 'tiny', decBlocks: '1x2,4m1,4x1,8m4,8x2', width: 16, zdim: 4, bottleneckMultiple: 0.25, numMixtures: 3, imageSize: 8, decodedLayers: 4 };
const PRIOR = 3 * 4 * 8 * 8;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lowlevel-'));
  const bytes = new Uint8Array(await readFile(join(FIX, 'model-ema.th')));
  const ck = await openCheckpoint({ label: 'vdvae-tiny', open: async (p) => (p === 'model-ema.th' ? bytesSource(bytes, p) : null) }, { file: 'model-ema.th' });
  for (const t of [1, 0.5]) await writeAtomically(join(dir, `pack-${t}`), (sink) => packVdvae(ck, sink, { config: TINY, temperature: t }));
  await writeFile(join(dir, 'latents.npy'), await readFile(join(FIX, 'latents.npy')));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const MIX = 8 * 8 * 3; // [8, 8, 3 mixtures] per image
const PIX = 8 * 8 * 3; // [8, 8, 3 channels] per image
const f32 = (data: Float32Array, shape: number[]): NpyArray => ({ dtype: '<f4', shape, data, fortranOrder: false });
const seeded = (seed: number) => ({
  mix: batchUniform(seed, 2, MIX, 'lowlevel/mixture', 1e-5, 1 - 1e-5),
  pix: batchUniform(seed, 2, PIX, 'lowlevel/logistic', 1e-5, 1 - 1e-5),
});
const halves = () => ({ mix: new Float32Array(2 * MIX).fill(0.5), pix: new Float32Array(2 * PIX).fill(0.5) });

async function direct(pack: string, noise: Float32Array, u: { mix: Float32Array; pix: Float32Array }): Promise<Float32Array> {
  const lat = readNpy(new Uint8Array(await readFile(join(FIX, 'latents.npy'))));
  const r = await runStage(await loadPackStage(new FsShardSource(join(dir, pack)), 'lowLevelDecoder'), {
    latents: lat,
    prior_noise: f32(noise, [2, PRIOR]),
    mix_uniform: f32(u.mix, [2, 8, 8, 3]),
    pixel_uniform: f32(u.pix, [2, 8, 8, 3]),
  });
  return r.outputs.px.data as Float32Array;
}
const px = async (f: string) => readNpy(new Uint8Array(await readFile(f))).data as Float32Array;

describe('mirage lowlevel', () => {
  it('uses the seeded prior noise and mixture draws of the pipeline (noise scaled by the pack temperature); --deterministic the prior means and the most likely components', async () => {
    const out = join(dir, 'px.npy');
    await runLowLevel({ models: join(dir, 'pack-0.5'), latents: join(dir, 'latents.npy'), out, seed: '7' });
    const noise = batchNoise(7, 2, PRIOR, 'lowlevel/prior').map((v) => v * 0.5);
    const sampled = await px(out);
    expect(Array.from(sampled)).toEqual(Array.from(await direct('pack-0.5', noise, seeded(7))));
    // the pixels are sampled: the same prior noise with draws of 0.5 gives another image
    expect(Array.from(sampled)).not.toEqual(Array.from(await direct('pack-0.5', noise, halves())));
    await runLowLevel({ models: join(dir, 'pack-1'), latents: join(dir, 'latents.npy'), out, seed: '7', deterministic: true });
    const means = await px(out);
    expect(Array.from(means)).toEqual(Array.from(await direct('pack-1', new Float32Array(2 * PRIOR), halves())));
    expect(Array.from(means)).not.toEqual(Array.from(await direct('pack-1', batchNoise(7, 2, PRIOR, 'lowlevel/prior'), halves())));
  });

  it('writes one PNG per row, VDVAE uint8 conversion of px', async () => {
    const r = await runLowLevel({ models: join(dir, 'pack-1'), latents: join(dir, 'latents.npy'), out: join(dir, 'img.png'), seed: '0' });
    expect(r.files).toEqual([join(dir, 'img-0.png'), join(dir, 'img-1.png')]);
    await runLowLevel({ models: join(dir, 'pack-1'), latents: join(dir, 'latents.npy'), out: join(dir, 'px0.npy'), seed: '0' });
    const all = await px(join(dir, 'px0.npy'));
    const png = decodePng(new Uint8Array(await readFile(join(dir, 'img-1.png'))));
    expect(Array.from(pngToRgb(png))).toEqual(Array.from(vdvaeToRgb(all.subarray(192), 8, 8).data));
    await writeFile(join(dir, 'bad.npy'), writeNpy(new Float32Array(84), [84]));
    await expect(runLowLevel({ models: join(dir, 'pack-1'), latents: join(dir, 'bad.npy'), out: join(dir, 'x.png'), seed: '0' })).rejects.toThrow(/bad\.npy: header\.shape: shape \[84\] \(expected \[N, latent values\]/);
    await expect(runLowLevel({ models: join(dir, 'pack-1'), latents: join(dir, 'latents.npy'), out: join(dir, 'x.jpg'), seed: '0' })).rejects.toThrow(/--out .*x\.jpg \(expected a \.png/);
  });

  it('the pipeline and the CLI share the random inputs: only the roles a stage declares (the stand-in decoder has no mixture draws), each from its own stream', async () => {
    const spec = (await loadPackStage(new FsShardSource(join(dir, 'pack-0.5')), 'lowLevelDecoder')).spec;
    const r = lowLevelRandomInputs(spec, 2, 7);
    expect(Object.keys(r).sort()).toEqual(['mix_uniform', 'pixel_uniform', 'prior_noise']);
    expect(r.mix_uniform.dims).toEqual([2, 8, 8, 3]);
    expect(Array.from(r.mix_uniform.data)).toEqual(Array.from(seeded(7).mix));
    expect(Array.from(r.pixel_uniform.data)).toEqual(Array.from(seeded(7).pix));
    expect(Math.min(...r.pixel_uniform.data)).toBeGreaterThanOrEqual(Math.fround(1e-5));
    const standIn = lowLevelRandomInputs(realStageSpecs('stand-in').lowLevelDecoder, 1, 7);
    expect(Object.keys(standIn)).toEqual(['prior_noise']);
    expect(Array.from(standIn.prior_noise.data.subarray(0, 50))).toEqual(Array.from(batchNoise(7, 1, 50, 'lowlevel/prior')));
  });

  it("the pipeline's low-level image (decodeLowLevel) feeds the VDVAE stage the seeded prior noise and mixture draws of its seed", async () => {
    const stage = await loadPackStage(new FsShardSource(join(dir, 'pack-1')), 'lowLevelDecoder');
    const fed: Record<string, Float32Array> = {};
    // The pipeline's view of a pack: the manifest's stage and PackSessions.run, here over runStage.
    const sessions = {
      pack: { manifest: { stages: { lowLevelDecoder: stage.spec } } },
      run: async (_stage: string, feeds: Record<string, { data: Float32Array }>) => {
        const arrays: Record<string, NpyArray> = {};
        for (const [role, f] of Object.entries(feeds)) {
          fed[role] = f.data;
          arrays[role] = f32(f.data, [1, ...(stage.spec.inputs[role].shape.slice(1) as number[])]);
        }
        const r = await runStage(stage, arrays);
        return { px: { data: r.outputs.px.data as Float32Array, dims: r.outputs.px.dims } };
      },
    } as unknown as PackSessions;
    const lat = readNpy(new Uint8Array(await readFile(join(FIX, 'latents.npy'))));
    const row = (lat.data as Float32Array).slice(0, lat.shape[1]);
    const img = await decodeLowLevel(sessions, row, 11, new Transfers());
    expect(Object.keys(fed).sort()).toEqual(['latents', 'mix_uniform', 'pixel_uniform', 'prior_noise']);
    expect(Array.from(fed.mix_uniform)).toEqual(Array.from(batchUniform(11, 1, MIX, 'lowlevel/mixture', 1e-5, 1 - 1e-5)));
    expect(Array.from(fed.pixel_uniform)).toEqual(Array.from(batchUniform(11, 1, PIX, 'lowlevel/logistic', 1e-5, 1 - 1e-5)));
    expect(Array.from(fed.prior_noise)).toEqual(Array.from(batchNoise(11, 1, PRIOR, 'lowlevel/prior')));
    // the same image `mirage lowlevel --seed 11` writes for that row
    await writeFile(join(dir, 'row0.npy'), writeNpy(row, [1, row.length]));
    const r = await runLowLevel({ models: join(dir, 'pack-1'), latents: join(dir, 'row0.npy'), out: join(dir, 'row0.png'), seed: '11' });
    expect(Array.from(img.data)).toEqual(Array.from(pngToRgb(decodePng(new Uint8Array(await readFile(r.files[0]))))));
  });
});
