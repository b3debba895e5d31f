// `mirage lowlevel`: the low-level decoder stage (VDVAE in MIRAGE) on decoded latents from a file,
// with the undecoded layers' prior noise made as the pipeline makes it (seeded standard normal, the
// 'lowlevel/prior' stream of row k from seed + k, scaled by the stage's priorTemperature), or zero
// (`deterministic`: the undecoded layers at their prior means).
import { BundleError } from '../../base/errors.ts';
import { vdvaeToRgb, type RgbImage } from '../../base/image.ts';
import { batchNoise } from '../../base/rng.ts';
import type { NpyArray } from '../../tensor/npy.ts';
import { settingNumber } from '../preprocess.ts';
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
  const noiseSpec = stage.spec.inputs.prior_noise;
  if (noiseSpec) {
    const per = Number(noiseSpec.shape[1]);
    const t = settingNumber(stage.spec.settings, 'priorTemperature', 1);
    const noise = opts.deterministic ? new Float32Array(rows * per) : batchNoise(opts.seed ?? 0, rows, per, 'lowlevel/prior');
    if (t !== 1) for (let i = 0; i < noise.length; i++) noise[i] *= t;
    inputs.prior_noise = { dtype: '<f4', shape: [rows, per], data: noise, fortranOrder: false };
  }
  const r = await runStage(stage, inputs, { files: { latents: file, prior_noise: opts.deterministic ? 'prior means (zero noise)' : `seeded noise (seed ${opts.seed ?? 0})` } });
  const px = r.outputs.px;
  if (px.dims.length !== 4 || px.dims[3] !== 3) throw new BundleError(stage.spec.file, `px has shape [${px.dims.join(', ')}]`, { expected: '[N, H, W, 3] (NHWC, [-1, 1])' });
  const [, h, w] = px.dims;
  const data = px.data as Float32Array;
  const images = Array.from({ length: rows }, (_, k) => vdvaeToRgb(data.subarray(k * h * w * 3, (k + 1) * h * w * 3), w, h));
  return { px: data, dims: px.dims, images };
}
