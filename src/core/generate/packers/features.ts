// `mirage features`: a pack's image encoder on image files, as MIRAGE computes its targets.
// - CLIP (`imageEncoder`): the processor's preprocessing (bicubic resize of the short side + centre
//   crop to the stage's inputSize, CLIP mean/std from the stage's settings; the same code the
//   pipeline scores candidates with, base/image.ts + preprocess.ts), then the stage in batches.
// - VDVAE (`lowLevelEncoder`): Pillow's bilinear resize to inputSize x inputSize (torchvision's
//   resize of a PIL image, as MIRAGE and Brain-Diffuser do), (value + inputShift)·inputScale on
//   0..255, NHWC, then the stage with seeded standard-normal posterior noise (row k from seed + k,
//   stream 'features/vdvae-posterior'): each layer's posterior sample, MIRAGE's training target;
//   `deterministic`: zero noise, the posterior means.
// - GiT (`imageEncoder` of a `mirage pack git` pack, settings.model "git"): CLIP's preprocessing (GiT's
//   processor is CLIP's: 224 px, bicubic, CLIP mean/std), then GiT's tower: `last_hidden_state`
//   [N, 257, 1024], post_layernorm on every token, the features MIRAGE's prompt head predicts.
import { BundleError } from '../../base/errors.ts';
import { resizeCenterCrop, resizePil, toNormalizedChw, type RgbImage } from '../../base/image.ts';
import { batchNoise } from '../../base/rng.ts';
import type { NpyArray } from '../../tensor/npy.ts';
import { CLIP_MEAN, CLIP_STD, settingNumber, settingNumbers } from '../preprocess.ts';
import { openStageSession, runStage } from './runStage.ts';
import type { LoadedStage } from './stagePack.ts';

export const FEATURE_MODELS = { clip: 'imageEncoder', vdvae: 'lowLevelEncoder', git: 'imageEncoder' } as const;
export type FeatureModel = keyof typeof FEATURE_MODELS;

type NamedImage = { name: string; image: RgbImage };
type Progress = (done: number, total: number, label: string) => void;

/** The image encoder's input for one image: short side to inputSize (bicubic), centre crop, normalised, CHW. */
export function clipPixelValues(stage: LoadedStage, img: RgbImage): Float32Array {
  const st = stage.spec.settings;
  const size = settingNumber(st, 'inputSize', 224);
  return toNormalizedChw(
    resizeCenterCrop(img, size, 'bicubic'),
    settingNumbers(st, 'mean', CLIP_MEAN),
    settingNumbers(st, 'std', CLIP_STD),
  );
}

/** VDVAE's encoder input for one image: Pillow bilinear to inputSize², (v + shift)·scale, HWC. */
export function vdvaePixels(stage: LoadedStage, img: RgbImage): Float32Array {
  const st = stage.spec.settings;
  const size = settingNumber(st, 'inputSize', 64);
  const shift = settingNumber(st, 'inputShift', Number.NaN);
  const scale = settingNumber(st, 'inputScale', Number.NaN);
  if (!Number.isFinite(shift) || !Number.isFinite(scale))
    throw new BundleError(stage.spec.file, 'no input normalisation', { field: 'stages.lowLevelEncoder.settings.inputShift/inputScale', expected: 'numbers (vdvae data.py: -115.92961967, 1/69.37404 for imagenet64)' });
  const r = resizePil(img, size, size, 'bilinear').data;
  const out = new Float32Array(r.length);
  // float32 as the reference: (x + shift) then · scale, each rounded.
  for (let i = 0; i < r.length; i++) out[i] = Math.fround(Math.fround(r[i] + Math.fround(shift)) * Math.fround(scale));
  return out;
}

function checkStage(stage: LoadedStage, model: FeatureModel): void {
  if (stage.stage !== FEATURE_MODELS[model])
    throw new BundleError(stage.packName, `stage ${stage.stage} is not ${model}'s`, { expected: FEATURE_MODELS[model] });
}

/** Runs a stage over the images `batch` at a time; `inputs(chunk, k0)` makes one run's arrays; rows in the images' order. */
async function encodeInBatches(
  stage: LoadedStage,
  images: NamedImage[],
  output: string,
  inputs: (chunk: NamedImage[], k0: number) => Record<string, NpyArray>,
  opts: { batch?: number; onProgress?: Progress },
): Promise<{ data: Float32Array; dims: number[] }> {
  if (!images.length) throw new BundleError('command line', 'no images given', { expected: 'one or more PNG files' });
  const batch = Math.max(1, opts.batch ?? 8);
  let out: Float32Array | undefined;
  let dims: number[] = [];
  const session = await openStageSession(stage);
  try {
    for (let k0 = 0; k0 < images.length; k0 += batch) {
      const chunk = images.slice(k0, k0 + batch);
      const given = inputs(chunk, k0);
      const r = await runStage(stage, given, { files: Object.fromEntries(Object.keys(given).map((role) => [role, chunk[0].name])), session });
      const o = r.outputs[output];
      const per = o.data.length / chunk.length;
      if (!out) {
        out = new Float32Array(per * images.length);
        dims = [images.length, ...o.dims.slice(1)];
      }
      out.set(o.data as Float32Array, k0 * per);
      opts.onProgress?.(k0 + chunk.length, images.length, chunk[chunk.length - 1].name);
    }
  } finally {
    await session.release();
  }
  return { data: out as Float32Array, dims };
}

const f32 = (data: Float32Array, shape: number[]): NpyArray => ({ dtype: '<f4', shape, data, fortranOrder: false });

/**
 * One output role of the image encoder for every image, rows in the images' order:
 * `image_embeds` [N, 768] or `last_hidden_state` [N, 257, 1024] for ViT-L/14. Runs `batch` images at a time.
 */
export async function clipFeatures(
  stage: LoadedStage,
  images: NamedImage[],
  output: string,
  opts: { batch?: number; onProgress?: Progress } = {},
): Promise<{ data: Float32Array; dims: number[] }> {
  checkStage(stage, 'clip');
  // GiT's tower has the same stage name and input but another last_hidden_state (after post_layernorm).
  if (stage.spec.settings.model === 'git') throw new BundleError(stage.packName, "the image encoder is GiT's, not CLIP's", { field: 'stages.imageEncoder.settings.model', expected: 'a pack from `mirage pack clip` (or use --model git)' });
  return towerFeatures(stage, images, output, opts);
}

/** GiT image features [N, 257, 1024] (`last_hidden_state` of a `mirage pack git` pack), `batch` images at a time. */
export async function gitFeatures(stage: LoadedStage, images: NamedImage[], opts: { batch?: number; onProgress?: Progress } = {}): Promise<{ data: Float32Array; dims: number[] }> {
  checkStage(stage, 'git');
  if (stage.spec.settings.model !== 'git') throw new BundleError(stage.packName, "the image encoder is not GiT's", { field: 'stages.imageEncoder.settings.model', expected: '"git" (a pack from `mirage pack git`)' });
  return towerFeatures(stage, images, 'last_hidden_state', opts);
}

async function towerFeatures(stage: LoadedStage, images: NamedImage[], output: string, opts: { batch?: number; onProgress?: Progress }): Promise<{ data: Float32Array; dims: number[] }> {
  if (!stage.spec.outputs[output])
    throw new BundleError(stage.packName, `the image encoder has no output "${output}"`, {
      field: 'stages.imageEncoder.outputs',
      expected: Object.keys(stage.spec.outputs).join(', '),
    });
  const size = settingNumber(stage.spec.settings, 'inputSize', 224);
  const row = 3 * size * size;
  return encodeInBatches(stage, images, output, (chunk) => {
    const px = new Float32Array(chunk.length * row);
    chunk.forEach((c, k) => px.set(clipPixelValues(stage, c.image), k * row));
    return { pixel_values: f32(px, [chunk.length, 3, size, size]) };
  }, opts);
}

/** VDVAE latents [N, 91168] (the first 31 layers' posterior samples, flattened in layer order), `batch` images at a time. */
export async function vdvaeFeatures(
  stage: LoadedStage,
  images: NamedImage[],
  opts: { batch?: number; seed?: number; deterministic?: boolean; onProgress?: Progress } = {},
): Promise<{ data: Float32Array; dims: number[] }> {
  checkStage(stage, 'vdvae');
  const size = settingNumber(stage.spec.settings, 'inputSize', 64);
  const row = size * size * 3;
  const per = Number(stage.spec.inputs.posterior_noise?.shape[1]);
  if (!Number.isInteger(per)) throw new BundleError(stage.spec.file, 'no fixed posterior_noise size', { field: 'stages.lowLevelEncoder.inputs.posterior_noise.shape', expected: '[batch, latent values]' });
  return encodeInBatches(stage, images, 'latents', (chunk, k0) => {
    const px = new Float32Array(chunk.length * row);
    chunk.forEach((c, k) => px.set(vdvaePixels(stage, c.image), k * row));
    const noise = opts.deterministic ? new Float32Array(chunk.length * per) : batchNoise((opts.seed ?? 0) + k0, chunk.length, per, 'features/vdvae-posterior');
    return { pixels: f32(px, [chunk.length, size, size, 3]), posterior_noise: f32(noise, [chunk.length, per]) };
  }, opts);
}
