// `mirage lowlevel` on a packed VDVAE decoder (the reduced fixture): the prior noise is the
// pipeline's (row k from seed + k, scaled by the stage's priorTemperature), --deterministic uses
// the prior means, PNGs are VDVAE's uint8 conversion of px.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vdvaeToRgb } from '../../../src/core/base/image.ts';
import { batchNoise } from '../../../src/core/base/rng.ts';
import { bytesSource } from '../../../src/core/formats/byteSource.ts';
import { openCheckpoint } from '../../../src/core/generate/packers/checkpoint.ts';
import { runStage } from '../../../src/core/generate/packers/runStage.ts';
import { loadPackStage } from '../../../src/core/generate/packers/stagePack.ts';
import type { VdvaeConfig } from '../../../src/core/generate/packers/vdvae.ts';
import { packVdvae } from '../../../src/core/generate/packers/vdvaePack.ts';
import { readNpy, writeNpy } from '../../../src/core/tensor/npy.ts';
import { decodePng, pngToRgb } from '../../../src/core/tensor/png.ts';
import { writeAtomically } from '../../../src/node/atomic.ts';
import { FsShardSource } from '../../../src/node/fsSource.ts';
import { runLowLevel } from '../../../cli/commands/lowlevel.ts';

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

async function direct(pack: string, noise: Float32Array): Promise<Float32Array> {
  const lat = readNpy(new Uint8Array(await readFile(join(FIX, 'latents.npy'))));
  const r = await runStage(await loadPackStage(new FsShardSource(join(dir, pack)), 'lowLevelDecoder'), { latents: lat, prior_noise: { dtype: '<f4', shape: [2, PRIOR], data: noise, fortranOrder: false } });
  return r.outputs.px.data as Float32Array;
}
const px = async (f: string) => readNpy(new Uint8Array(await readFile(f))).data as Float32Array;

describe('mirage lowlevel', () => {
  it('uses the seeded prior noise of the pipeline, scaled by the pack temperature; --deterministic the prior means', async () => {
    const out = join(dir, 'px.npy');
    await runLowLevel({ models: join(dir, 'pack-0.5'), latents: join(dir, 'latents.npy'), out, seed: '7' });
    const noise = batchNoise(7, 2, PRIOR, 'lowlevel/prior').map((v) => v * 0.5);
    expect(Array.from(await px(out))).toEqual(Array.from(await direct('pack-0.5', noise)));
    await runLowLevel({ models: join(dir, 'pack-1'), latents: join(dir, 'latents.npy'), out, seed: '7', deterministic: true });
    const means = await px(out);
    expect(Array.from(means)).toEqual(Array.from(await direct('pack-1', new Float32Array(2 * PRIOR))));
    expect(Array.from(means)).not.toEqual(Array.from(await direct('pack-1', batchNoise(7, 2, PRIOR, 'lowlevel/prior'))));
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
});
