// `mirage lowlevel`: the low-level decoder stage (VDVAE in MIRAGE) on decoded latents from a file,
// with its random inputs made as the pipeline makes them (lowLevelImage.ts lowLevelRandomInputs:
// row k from seed + k; the prior noise of the undecoded layers scaled by the stage's
// priorTemperature, the mixture-of-logistics draws from their own streams), or `deterministic`:
// the undecoded layers at their prior means and each pixel at the mean of its most likely component.
import { BundleError } from '../../base/errors.ts';
import { vdvaeToRgb, type RgbImage } from '../../base/image.ts';
import type { NpyArray } from '../../tensor/npy.ts';
import { lowLevelRandomInputs } from '../lowLevelImage.ts';
import { runStage } from './runStage.ts';
import type { LoadedStage } from './stagePack.ts';

export interface LowLevelResult {
  /** px as the stage returns it: [N, S, S, 3] in [-1, 1]. */
  px: Float32Array;
  dims: number[];
  /** One uint8 image per row (VDVAE's clamp((x + 1)·127.5) and truncation). */
  images: RgbImage[];
}

export async function decodeLowLevelFile(
  stage: LoadedStage,
  latents: NpyArray,
  opts: { seed?: number; deterministic?: boolean; file?: string } = {},
): Promise<LowLevelResult> {
  const file = opts.file ?? 'latents.npy';
  if (stage.stage !== 'lowLevelDecoder') throw new BundleError(stage.packName, `stage ${stage.stage}`, { expected: 'lowLevelDecoder' });
  if (latents.shape.length !== 2) throw new BundleError(file, `shape [${latents.shape.join(', ')}]`, { field: 'header.shape', expected: '[N, latent values] (one row per image)' });
  const rows = latents.shape[0];
  const inputs: Record<string, NpyArray> = { latents };
  const files: Record<string, string> = { latents: file };
  const seed = opts.seed ?? 0;
  for (const [role, r] of Object.entries(lowLevelRandomInputs(stage.spec, rows, seed, opts.deterministic))) {
    inputs[role] = { dtype: '<f4', shape: r.dims, data: r.data, fortranOrder: false };
    files[role] = opts.deterministic ? `${role}: deterministic (prior means, 0.5 draws)` : `${role}: seeded (seed ${seed})`;
  }
  const r = await runStage(stage, inputs, { files });
  const px = r.outputs.px;
  if (px.dims.length !== 4 || px.dims[3] !== 3) throw new BundleError(stage.spec.file, `px has shape [${px.dims.join(', ')}]`, { expected: '[N, H, W, 3] (NHWC, [-1, 1])' });
  const [, h, w] = px.dims;
  const data = px.data as Float32Array;
  const images = Array.from({ length: rows }, (_, k) => vdvaeToRgb(data.subarray(k * h * w * 3, (k + 1) * h * w * 3), w, h));
  return { px: data, dims: px.dims, images };
}
