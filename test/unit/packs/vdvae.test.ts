// VDVAE's decoder and encoder built from a checkpoint with openai/vdvae's key names, compared with the
// reference implementation (vae.py, vae_helpers.py) run on the same random checkpoint at reduced
// size (test/fixtures/packs/README.md, vdvae-tiny/).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resizePil } from '../../../src/core/base/image.ts';
import { batchNoise } from '../../../src/core/base/rng.ts';
import { bytesSource } from '../../../src/core/formats/byteSource.ts';
import { openCheckpoint, type Checkpoint } from '../../../src/core/generate/packers/checkpoint.ts';
import { vdvaePixels } from '../../../src/core/generate/packers/features.ts';
import {
  checkVdvaeCheckpoint,
  checkVdvaeEncoderCheckpoint,
  VDVAE_IMAGENET64,
  vdvaeDecoderParamCount,
  vdvaeDecoderShapes,
  vdvaeEncoderParamCount,
  vdvaeEncoderShapes,
  vdvaeLatentSizes,
  vdvaeParamCount,
  type VdvaeConfig,
} from '../../../src/core/generate/packers/vdvae.ts';
import { REAL } from '../../../src/core/generate/standInPack.ts';
import { runStage } from '../../../src/core/generate/packers/runStage.ts';
import { loadPackStage, type LoadedStage } from '../../../src/core/generate/packers/stagePack.ts';
import { packVdvae } from '../../../src/core/generate/packers/vdvaePack.ts';
import { readNpy, type NpyArray } from '../../../src/core/tensor/npy.ts';
import { encodePng } from '../../../src/core/tensor/png.ts';
import { writeAtomically } from '../../../src/node/atomic.ts';
import { FsShardSource } from '../../../src/node/fsSource.ts';
import { runFeatures } from '../../../src/node/featuresRun.ts';
import { runPackVdvae } from '../../../src/node/packRun.ts';

const FIX = join(import.meta.dirname, '../../fixtures/packs/vdvae-tiny');
export const VDVAE_TINY: VdvaeConfig = {
  name: 'tiny',
  decBlocks: '1x2,4m1,4x1,8m4,8x2',
  encBlocks: '8x1,8d2,4x1,4d4,1x1',
  width: 16,
  zdim: 4,
  bottleneckMultiple: 0.25,
  numMixtures: 3,
  imageSize: 8,
  decodedLayers: 4,
  inputShift: VDVAE_IMAGENET64.inputShift,
  inputScale: VDVAE_IMAGENET64.inputScale,
};
const npy = async (n: string) => readNpy(new Uint8Array(await readFile(join(FIX, n))), n);
const f32 = (data: Float32Array, shape: number[]): NpyArray => ({ dtype: '<f4', shape, data, fortranOrder: false });
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let err = 0;
  for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
  return err;
};

let dir: string;
let ck: Checkpoint;
let decoder: LoadedStage;
let encoder: LoadedStage;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vdvae-'));
  const bytes = new Uint8Array(await readFile(join(FIX, 'model-ema.th')));
  ck = await openCheckpoint({ label: 'vdvae-tiny', open: async (p) => (p === 'model-ema.th' ? bytesSource(bytes, p) : null) }, { file: 'model-ema.th' });
  await writeAtomically(join(dir, 'pack'), (sink) => packVdvae(ck, sink, { config: VDVAE_TINY, maxFileBytes: 5000 }));
  decoder = await loadPackStage(new FsShardSource(join(dir, 'pack')), 'lowLevelDecoder');
  encoder = await loadPackStage(new FsShardSource(join(dir, 'pack')), 'lowLevelEncoder');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('VDVAE decoder vs the reference implementation (reduced config)', () => {
  it('px from decoded latents + prior noise equals openai/vdvae: uniform draws of 0.5 (most likely component, its mean), and given draws (sample_from_discretized_mix_logistic)', async () => {
    expect(decoder.spec.data?.length).toBeGreaterThan(1);
    expect(decoder.spec.settings.parameters).toBe(vdvaeDecoderParamCount(VDVAE_TINY));
    const lat = await npy('latents.npy');
    const noise = await npy('prior_noise.npy');
    expect(lat.shape).toEqual([2, vdvaeLatentSizes(VDVAE_TINY).decoded]);
    expect(noise.shape).toEqual([2, vdvaeLatentSizes(VDVAE_TINY).prior]);
    const half = (d: number[]) => f32(new Float32Array(d.reduce((a, b) => a * b, 1)).fill(0.5), d);
    const det = await runStage(decoder, { latents: lat, prior_noise: noise, mix_uniform: half([2, 8, 8, 3]), pixel_uniform: half([2, 8, 8, 3]) });
    const ref = await npy('ref_px.npy');
    expect(det.outputs.px.dims).toEqual(ref.shape);
    expect(maxDiff(det.outputs.px.data as Float32Array, ref.data as Float32Array)).toBeLessThan(1e-4);
    const mix = await npy('mix_uniform.npy');
    const pix = await npy('pixel_uniform.npy');
    const sampled = await runStage(decoder, { latents: lat, prior_noise: noise, mix_uniform: mix, pixel_uniform: pix });
    const refSampled = (await npy('ref_px_sampled.npy')).data as Float32Array;
    expect(maxDiff(sampled.outputs.px.data as Float32Array, refSampled)).toBeLessThan(1e-4);
    // the draws matter: the sample is not the deterministic pixel
    expect(maxDiff(refSampled, ref.data as Float32Array)).toBeGreaterThan(0.1);
  });

  it('the ImageNet-64 config gives the stage contract sizes: 91168 decoded values, 1359872 from the prior', () => {
    expect(vdvaeLatentSizes(VDVAE_IMAGENET64)).toEqual({ decoded: REAL.vdvaeLatents, prior: REAL.vdvaePriorNoise });
  });

  it('parameter counts of the ImageNet-64 config: 125.0 M for the whole VAE (the published figure), 66.8 M in the decoder graph, 26.5 M in the encoder', () => {
    // Child (2021), VDVAE, lists the ImageNet 64x64 model at 125M parameters; the reference code
    // (vae.VAE with hps imagenet64) counts 125,005,860, of which the decoder without its posterior
    // blocks (what the lowLevelDecoder graph holds) is 66,792,132 and vae.encoder 26,450,816. The
    // encoder graph adds the posterior blocks of the 31 decoded layers (12,821,088), the top-down
    // blocks of the first 30 (24,949,184) and the starting activations up to 32x32 (696,832).
    expect(vdvaeParamCount(VDVAE_IMAGENET64)).toBe(125_005_860);
    expect(Math.round(vdvaeParamCount(VDVAE_IMAGENET64) / 1e6)).toBe(125);
    expect(vdvaeDecoderParamCount(VDVAE_IMAGENET64)).toBe(66_792_132);
    expect(vdvaeEncoderParamCount(VDVAE_IMAGENET64)).toEqual({ encoder: 26_450_816, graph: 26_450_816 + 12_821_088 + 24_949_184 + 696_832 });
  });
});

describe('VDVAE encoder vs the reference implementation (reduced config)', () => {
  async function pixels(): Promise<NpyArray> {
    const imgs = await npy('images.npy'); // uint8 [2, 11, 13, 3]
    const [n, h, w] = imgs.shape;
    const px = new Float32Array(n * 8 * 8 * 3);
    for (let k = 0; k < n; k++) px.set(vdvaePixels(encoder, { width: w, height: h, data: (imgs.data as Uint8Array).subarray(k * h * w * 3, (k + 1) * h * w * 3) }), k * 192);
    return f32(px, [n, 8, 8, 3]);
  }

  it('latents of images (Pillow bilinear to 8x8, imagenet64 shift/scale) equal the posterior samples z of vae.py forward(get_latents=True) with the same noise, and the posterior means with zero noise', async () => {
    expect(encoder.spec.settings.parameters).toBe(vdvaeEncoderParamCount(VDVAE_TINY).graph);
    const noise = await npy('posterior_noise.npy');
    expect(noise.shape).toEqual([2, vdvaeLatentSizes(VDVAE_TINY).decoded]);
    const px = await pixels();
    const sampled = await runStage(encoder, { pixels: px, posterior_noise: noise });
    expect(sampled.outputs.latents.dims).toEqual([2, 136]);
    expect(maxDiff(sampled.outputs.latents.data as Float32Array, (await npy('ref_latents_sampled.npy')).data as Float32Array)).toBeLessThan(1e-4);
    const means = await runStage(encoder, { pixels: px, posterior_noise: f32(new Float32Array(2 * 136), [2, 136]) });
    const refMeans = (await npy('ref_latents_mean.npy')).data as Float32Array;
    expect(maxDiff(means.outputs.latents.data as Float32Array, refMeans)).toBeLessThan(1e-4);
    expect(maxDiff(refMeans, (await npy('ref_latents_sampled.npy')).data as Float32Array)).toBeGreaterThan(0.1);
  });

  it("the resize is torchvision's of a PIL image (Pillow bilinear), bit-exact, down (90x70) and up (30x40) to 64x64", async () => {
    const a = await npy('resize_in.npy'); // uint8 [70, 90, 3]
    const img = { width: 90, height: 70, data: Uint8Array.from(a.data as Uint8Array) };
    expect(Array.from(resizePil(img, 64, 64, 'bilinear').data)).toEqual(Array.from((await npy('resize_ref.npy')).data as Uint8Array));
    const crop = { width: 30, height: 40, data: new Uint8Array(30 * 40 * 3) };
    for (let y = 0; y < 40; y++) crop.data.set(img.data.subarray(y * 270, y * 270 + 90), y * 90);
    expect(Array.from(resizePil(crop, 64, 64, 'bilinear').data)).toEqual(Array.from((await npy('resize_up_ref.npy')).data as Uint8Array));
  });

  it('mirage features --model vdvae on PNG files: --deterministic gives the reference posterior means; a seed gives the samples of that seed (image k from seed + k, any batch size)', async () => {
    const imgs = await npy('images.npy');
    const [n, h, w] = imgs.shape;
    const files: string[] = [];
    for (let k = 0; k < n; k++) {
      files.push(join(dir, `img${k}.png`));
      await writeFile(files[k], encodePng((imgs.data as Uint8Array).slice(k * h * w * 3, (k + 1) * h * w * 3), w, h, 3));
    }
    const out = join(dir, 'lat.npy');
    const read = async () => readNpy(new Uint8Array(await readFile(out)));
    const r = await runFeatures({ models: join(dir, 'pack'), model: 'vdvae', images: files, output: 'image_embeds', out, batch: '1', deterministic: true, quiet: true });
    expect(r.shape).toEqual([2, 136]);
    expect(maxDiff((await read()).data as Float32Array, (await npy('ref_latents_mean.npy')).data as Float32Array)).toBeLessThan(1e-4);
    await runFeatures({ models: join(dir, 'pack'), model: 'vdvae', images: files, output: 'image_embeds', out, batch: '1', seed: '3', quiet: true });
    const want = await runStage(encoder, { pixels: await pixels(), posterior_noise: f32(batchNoise(3, 2, 136, 'features/vdvae-posterior'), [2, 136]) });
    expect(Array.from((await read()).data as Float32Array)).toEqual(Array.from(want.outputs.latents.data as Float32Array));
  });
});

describe('float16 builds in the same pack (precision both)', () => {
  it('each stage gets a float16 variant (half-precision weights and arithmetic), within half precision of the reference', async () => {
    await writeAtomically(join(dir, 'pack-both'), (sink) => packVdvae(ck, sink, { config: VDVAE_TINY, precision: 'both' }));
    const src = new FsShardSource(join(dir, 'pack-both'));
    const dec = await loadPackStage(src, 'lowLevelDecoder', { variant: 'float16' });
    const enc = await loadPackStage(src, 'lowLevelEncoder', { variant: 'float16' });
    expect(new TextDecoder().decode(dec.onnx)).toContain('vdvae_decoder_f16');
    expect(new TextDecoder().decode(enc.onnx)).toContain('vdvae_encoder_f16');
    const r = await runStage(dec, { latents: await npy('latents.npy'), prior_noise: await npy('prior_noise.npy'), mix_uniform: await npy('mix_uniform.npy'), pixel_uniform: await npy('pixel_uniform.npy') });
    // px in [-1, 1]; float16 keeps 11 significant bits (the mixture is sampled in float32)
    expect(maxDiff(r.outputs.px.data as Float32Array, (await npy('ref_px_sampled.npy')).data as Float32Array)).toBeLessThan(5e-3);
    const imgs = await npy('images.npy');
    const px = new Float32Array(2 * 192);
    for (let k = 0; k < 2; k++) px.set(vdvaePixels(enc, { width: 13, height: 11, data: (imgs.data as Uint8Array).subarray(k * 429, (k + 1) * 429) }), k * 192);
    const e = await runStage(enc, { pixels: f32(px, [2, 8, 8, 3]), posterior_noise: await npy('posterior_noise.npy') });
    const ref = (await npy('ref_latents_sampled.npy')).data as Float32Array;
    const scale = Math.max(...Array.from(ref, Math.abs));
    expect(maxDiff(e.outputs.latents.data as Float32Array, ref)).toBeLessThan(5e-3 * scale);
    // half-precision arithmetic indeed: not the float32 graph's bits
    const full = await runStage(encoder, { pixels: f32(px, [2, 8, 8, 3]), posterior_noise: await npy('posterior_noise.npy') });
    expect(maxDiff(e.outputs.latents.data as Float32Array, full.outputs.latents.data as Float32Array)).toBeGreaterThan(1e-5);
  });
});

describe('VDVAE checkpoint errors name the file and the tensor', () => {
  const fake = (m: Map<string, number[]>): Checkpoint => ({ label: 'c', files: ['model-ema.th'], tensors: new Map([...m].map(([name, shape]) => [name, { name, shape, dtype: 'float32', file: 'model-ema.th' }])), read: () => Promise.reject(new Error('not read')) });

  it('a missing or misshapen decoder tensor', () => {
    const shapes = vdvaeDecoderShapes(VDVAE_TINY);
    const missing = new Map(shapes);
    missing.delete('decoder.out_net.out_conv.bias');
    expect(() => checkVdvaeCheckpoint(fake(missing), VDVAE_TINY)).toThrow(/tensor decoder\.out_net\.out_conv\.bias: missing tensor \(expected shape \[30\] \(tiny\)\)/);
    const bad = new Map(shapes).set('decoder.dec_blocks.3.prior.c2.weight', [4, 4, 1, 1]);
    expect(() => checkVdvaeCheckpoint(fake(bad), VDVAE_TINY)).toThrow(/model-ema\.th: tensor decoder\.dec_blocks\.3\.prior\.c2\.weight: shape \[4, 4, 1, 1\] \(expected \[4, 4, 3, 3\] \(tiny\)\)/);
  });

  it('missing encoder keys (a decoder-only state dict), a deeper encoder, another width or depth of the real checkpoint', async () => {
    const decOnly = new Map([...ck.tensors].filter(([k]) => k.startsWith('decoder.') && !k.includes('.enc.')).map(([k, t]) => [k, t.shape]));
    expect(() => checkVdvaeCheckpoint(fake(decOnly), VDVAE_TINY)).not.toThrow();
    expect(() => checkVdvaeEncoderCheckpoint(fake(decOnly), VDVAE_TINY)).toThrow(/model-ema\.th: tensor encoder\.in_conv\.weight: missing tensor \(expected shape \[16, 3, 3, 3\] \(tiny\)\)/);
    const noPosterior = new Map([...vdvaeEncoderShapes(VDVAE_TINY)].filter(([k]) => !k.startsWith('decoder.dec_blocks.2.enc.')));
    expect(() => checkVdvaeEncoderCheckpoint(fake(noPosterior), VDVAE_TINY)).toThrow(/tensor decoder\.dec_blocks\.2\.enc\.c1\.weight: missing tensor \(expected shape \[4, 32, 1, 1\]/);
    const deeper = new Map(vdvaeEncoderShapes(VDVAE_TINY)).set('encoder.enc_blocks.5.c1.weight', [4, 16, 1, 1]);
    expect(() => checkVdvaeEncoderCheckpoint(fake(deeper), VDVAE_TINY)).toThrow(/tensor encoder\.enc_blocks\.5\.c1\.weight: more blocks than the 5 of tiny \(expected 8x1,8d2,4x1,4d4,1x1\)/);
    // The tiny checkpoint given for the ImageNet-64 model: width 16, not 512, named by its first tensor.
    await expect(packVdvae(ck, { label: 'x', write: () => Promise.reject(new Error('not written')) } as never)).rejects.toThrow(/model-ema\.th: tensor decoder\.dec_blocks\.0\.prior\.c1\.weight: shape \[4, 16, 1, 1\] \(expected \[128, 512, 1, 1\] \(VDVAE ImageNet 64x64\)\)/);
    // A deeper config than the checkpoint (8 decoder blocks for its 7) is named by the first block it lacks.
    await expect(packVdvae(ck, { label: 'x', write: () => Promise.reject(new Error('not written')) } as never, { config: { ...VDVAE_TINY, decBlocks: '1x2,4m1,4x1,8m4,8x3' } })).rejects.toThrow(/tensor decoder\.dec_blocks\.7\.prior\.c1\.weight: missing tensor/);
  });

  it('a truncated .th names the file; one whose tensor data is cut short names the file and the tensor', async () => {
    const bytes = new Uint8Array(await readFile(join(FIX, 'model-ema.th')));
    const cut = join(dir, 'cut.th');
    await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length * 0.9)));
    await expect(runPackVdvae({ checkpoint: cut, out: join(dir, 'cut-pack'), maxFileMib: '1', temperature: '1' })).rejects.toThrow(/cut\.th: zip: not a zip archive \(no end-of-central-directory record; truncated\?\)/);
    // short-storage.th: the tiny checkpoint with the data of one tensor (storage 98) cut to half.
    await expect(runPackVdvae({ checkpoint: join(FIX, 'short-storage.th'), out: join(dir, 'cut-pack'), maxFileMib: '1', temperature: '1' })).rejects.toThrow(
      /short-storage\.th: tensor decoder\.dec_blocks\.2\.enc\.c2\.weight \(storage 98\): shape \[4,4,3,3\] .* reaches element 143 of a storage of 72/,
    );
  });
});
