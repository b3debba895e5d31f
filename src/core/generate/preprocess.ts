// What goes into the pack's image encoders, the way the Python models were fed: the latent
// encoder (Stable Cascade's EfficientNet: ImageNet normalisation, Lanczos to its input size) and
// the image encoder that scores candidates (CLIP's processor: bicubic short side + centre crop,
// CLIP normalisation), plus the retrieval tokens' L2 normalisation. Sizes and mean/std come from
// the stage's manifest settings when the pack names them, else these defaults.
import { resizeCenterCrop, resizePil, toNormalizedChw, type RgbImage } from '../base/image.ts';
import type { PackSessions } from './sessions.ts';

export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

/** A number from a stage's free-form manifest settings, or the fallback when absent or not a number. */
export function settingNumber(settings: Record<string, unknown>, key: string, fallback: number): number {
  const v = settings[key];
  return typeof v === 'number' ? v : fallback;
}

/** A list of numbers from a stage's manifest settings, or the fallback. */
export function settingNumbers(settings: Record<string, unknown>, key: string, fallback: number[]): number[] {
  const v = settings[key];
  return Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : fallback;
}

/** The latent encoder's input: the enhanced image at its size (Lanczos), normalised, CHW. */
export function encoderInput(sessions: PackSessions, enhanced: RgbImage): Float32Array {
  const st = sessions.pack.manifest.stages.latentEncoder;
  const size = settingNumber(st.settings, 'inputSize', enhanced.width);
  const img = enhanced.width === size && enhanced.height === size ? enhanced : resizePil(enhanced, size, size, 'lanczos');
  return toNormalizedChw(img, settingNumbers(st.settings, 'mean', IMAGENET_MEAN), settingNumbers(st.settings, 'std', IMAGENET_STD));
}

/** The image encoder's input for candidates: bicubic resize + centre crop, CLIP normalisation, CHW, one row each. */
export function clipInputs(sessions: PackSessions, imgs: RgbImage[]): Float32Array {
  const st = sessions.pack.manifest.stages.imageEncoder;
  const size = settingNumber(st.settings, 'inputSize', 224);
  const row = 3 * size * size;
  const out = new Float32Array(imgs.length * row);
  const mean = settingNumbers(st.settings, 'mean', CLIP_MEAN);
  const std = settingNumbers(st.settings, 'std', CLIP_STD);
  imgs.forEach((img, k) => out.set(toNormalizedChw(resizeCenterCrop(img, size, 'bicubic'), mean, std), k * row));
  return out;
}

/** L2-normalises every row of `tokens` (length = rows × dim) in place. */
export function normalizeTokens(tokens: Float32Array, dim: number): Float32Array {
  for (let o = 0; o < tokens.length; o += dim) {
    let s = 0;
    for (let i = 0; i < dim; i++) s += tokens[o + i] ** 2;
    const k = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let i = 0; i < dim; i++) tokens[o + i] *= k;
  }
  return tokens;
}
