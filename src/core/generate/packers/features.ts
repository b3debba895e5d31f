// `mirage features`: a pack's image encoder on image files, as MIRAGE computes its targets. For
// CLIP: the processor's preprocessing (bicubic resize of the short side + centre crop to the
// stage's inputSize, CLIP mean/std from the stage's settings; the same code the pipeline scores
// candidates with, base/image.ts + preprocess.ts), then the imageEncoder stage in batches.
import { BundleError } from '../../base/errors.ts';
import { resizeCenterCrop, toNormalizedChw, type RgbImage } from '../../base/image.ts';
import { CLIP_MEAN, CLIP_STD, settingNumber, settingNumbers } from '../preprocess.ts';
import { openStageSession, runStage } from './runStage.ts';
import type { LoadedStage } from './stagePack.ts';

export const FEATURE_MODELS = { clip: 'imageEncoder' } as const;
export type FeatureModel = keyof typeof FEATURE_MODELS;

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

/**
 * One output role of the image encoder for every image, rows in the images' order:
 * `image_embeds` [N, 768] or `last_hidden_state` [N, 257, 1024] for ViT-L/14. Runs `batch` images at a time.
 */
export async function clipFeatures(
  stage: LoadedStage,
  images: { name: string; image: RgbImage }[],
  output: string,
  opts: { batch?: number; onProgress?: (done: number, total: number, label: string) => void } = {},
): Promise<{ data: Float32Array; dims: number[] }> {
  if (stage.stage !== FEATURE_MODELS.clip)
    throw new BundleError(stage.packName, `stage ${stage.stage} is not CLIP's`, { expected: FEATURE_MODELS.clip });
  if (!stage.spec.outputs[output])
    throw new BundleError(stage.packName, `the image encoder has no output "${output}"`, {
      field: 'stages.imageEncoder.outputs',
      expected: Object.keys(stage.spec.outputs).join(', '),
    });
  if (!images.length) throw new BundleError('command line', 'no images given', { expected: 'one or more PNG files' });
  const size = settingNumber(stage.spec.settings, 'inputSize', 224);
  const batch = Math.max(1, opts.batch ?? 8);
  const row = 3 * size * size;
  let out: Float32Array | undefined;
  let dims: number[] = [];
  const session = await openStageSession(stage);
  try {
    for (let k0 = 0; k0 < images.length; k0 += batch) {
      const chunk = images.slice(k0, k0 + batch);
      const px = new Float32Array(chunk.length * row);
      chunk.forEach((c, k) => px.set(clipPixelValues(stage, c.image), k * row));
      const r = await runStage(
        stage,
        { pixel_values: { dtype: '<f4', shape: [chunk.length, 3, size, size], data: px, fortranOrder: false } },
        { files: { pixel_values: chunk[0].name }, session },
      );
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
