// VDVAE's decoder built from a checkpoint with openai/vdvae's key names, compared with the reference
// implementation (vae.py) run on the same random checkpoint at reduced size (test/fixtures/packs/README.md).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bytesSource } from '../../../src/core/formats/byteSource.ts';
import { openCheckpoint, type Checkpoint } from '../../../src/core/generate/packers/checkpoint.ts';
import { checkVdvaeCheckpoint, vdvaeDecoderParamCount, vdvaeDecoderShapes, vdvaeParamCount, vdvaeLatentSizes, VDVAE_IMAGENET64, type VdvaeConfig } from '../../../src/core/generate/packers/vdvae.ts';
import { REAL } from '../../../src/core/generate/standInPack.ts';
import { MemoryStore } from '../../../src/core/bundle/memoryStore.ts';
import { runStage } from '../../../src/core/generate/packers/runStage.ts';
import { loadPackStage } from '../../../src/core/generate/packers/stagePack.ts';
import { packVdvae } from '../../../src/core/generate/packers/vdvaePack.ts';
import { readNpy } from '../../../src/core/tensor/npy.ts';

const DIR = join(import.meta.dirname, '../../fixtures/packs/vdvae-tiny');
const TINY: VdvaeConfig = { name: 'tiny', decBlocks: '1x2,4m1,4x1,8m4,8x2', width: 16, zdim: 4, bottleneckMultiple: 0.25, numMixtures: 3, imageSize: 8, decodedLayers: 4 };
const npy = async (n: string) => readNpy(new Uint8Array(await readFile(join(DIR, n))), n);

describe('VDVAE decoder vs the reference implementation (reduced config)', () => {
  it('the packed stage: px from decoded latents + prior noise equals openai/vdvae (mixture at its most likely component mean)', async () => {
    const bytes = new Uint8Array(await readFile(join(DIR, 'model-ema.th')));
    const ck = await openCheckpoint({ label: 'vdvae-tiny', open: async (p) => (p === 'model-ema.th' ? bytesSource(bytes, p) : null) }, { file: 'model-ema.th' });
    const store = new MemoryStore('pack');
    const m = await packVdvae(ck, store, { config: TINY, maxFileBytes: 5000 });
    expect(m.stages.lowLevelDecoder?.data?.length).toBeGreaterThan(1);
    expect(m.stages.lowLevelDecoder?.settings.parameters).toBe(vdvaeDecoderParamCount(TINY));
    const lat = await npy('latents.npy');
    const noise = await npy('prior_noise.npy');
    expect(lat.shape).toEqual([2, vdvaeLatentSizes(TINY).decoded]);
    expect(noise.shape).toEqual([2, vdvaeLatentSizes(TINY).prior]);
    const r = await runStage(await loadPackStage(store, 'lowLevelDecoder'), { latents: lat, prior_noise: noise });
    const ref = await npy('ref_px.npy');
    expect(r.outputs.px.dims).toEqual(ref.shape);
    const a = r.outputs.px.data as Float32Array;
    const b = ref.data as Float32Array;
    let err = 0;
    for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
    expect(err).toBeLessThan(1e-4);
  });

  it('the ImageNet-64 config gives the stage contract sizes: 91168 decoded values, 1359872 from the prior', () => {
    expect(vdvaeLatentSizes(VDVAE_IMAGENET64)).toEqual({ decoded: REAL.vdvaeLatents, prior: REAL.vdvaePriorNoise });
  });

  it('parameter counts of the ImageNet-64 config: 125.0 M for the whole VAE (the published figure), 66.8 M in the decoder graph', () => {
    // Child (2021), VDVAE, lists the ImageNet 64x64 model at 125M parameters; the reference code
    // (vae.VAE with hps imagenet64) counts 125,005,860, of which the decoder without its posterior
    // blocks (what the lowLevelDecoder graph holds) is 66,792,132.
    expect(vdvaeParamCount(VDVAE_IMAGENET64)).toBe(125_005_860);
    expect(Math.round(vdvaeParamCount(VDVAE_IMAGENET64) / 1e6)).toBe(125);
    expect(vdvaeDecoderParamCount(VDVAE_IMAGENET64)).toBe(66_792_132);
  });

  it('names a missing or misshapen tensor', () => {
    const shapes = vdvaeDecoderShapes(TINY);
    const ck = (m: Map<string, number[]>): Checkpoint => ({ label: 'c', files: ['model-ema.th'], tensors: new Map([...m].map(([name, shape]) => [name, { name, shape, dtype: 'float32', file: 'model-ema.th' }])), read: () => Promise.reject(new Error('not read')) });
    const missing = new Map(shapes);
    missing.delete('decoder.out_net.out_conv.bias');
    expect(() => checkVdvaeCheckpoint(ck(missing), TINY)).toThrow(/tensor decoder\.out_net\.out_conv\.bias: missing tensor \(expected shape \[30\] \(tiny\)\)/);
    const bad = new Map(shapes).set('decoder.dec_blocks.3.prior.c2.weight', [4, 4, 1, 1]);
    expect(() => checkVdvaeCheckpoint(ck(bad), TINY)).toThrow(/model-ema\.th: tensor decoder\.dec_blocks\.3\.prior\.c2\.weight: shape \[4, 4, 1, 1\] \(expected \[4, 4, 3, 3\] \(tiny\)\)/);
  });
});
