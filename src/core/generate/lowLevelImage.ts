// The low-level branch's first stage: the decoded 'blurry' latents through the pack's low-level
// decoder (VDVAE in MIRAGE) to a small RGB image. The decoder's randomness comes in as inputs, each
// from its own named stream of the seeded NoiseRng (row k from seed + k): the layers beyond the
// decoded ones are sampled from its prior (`prior_noise`, standard normal times the stage's
// priorTemperature), and each pixel from the mixture of logistics (`mix_uniform`, `pixel_uniform`),
// as MIRAGE samples them. Packs without these optional roles (the demo, the stand-ins) get none.
// Output range and layout come from the manifest.
import { batchNoise, batchUniform } from '../base/rng.ts';
import { BundleError } from '../base/errors.ts';
import { chwToRgb, vdvaeToRgb, type RgbImage } from '../base/image.ts';
import type { StageSpec } from './modelPack.ts';
import { settingNumber, settingNumbers } from './preprocess.ts';
import type { PackSessions } from './sessions.ts';
import type { Transfers } from './transfers.ts';

/** The mixture draws' interval when the stage does not say (openai/vdvae's sampler). */
const DEFAULT_UNIFORM_RANGE = [1e-5, 1 - 1e-5];

/**
 * The low-level decoder's random inputs by role, for `rows` images: only the optional roles the
 * stage declares. `deterministic`: the undecoded layers at their prior means (zero noise) and the
 * mixture's draws at 0.5 (the most likely component, at its mean).
 */
export function lowLevelRandomInputs(spec: StageSpec, rows: number, seed: number, deterministic = false): Record<string, { data: Float32Array; dims: number[] }> {
  const out: Record<string, { data: Float32Array; dims: number[] }> = {};
  const per = (role: string) => {
    const rest = spec.inputs[role].shape.slice(1);
    if (!rest.every((d): d is number => typeof d === 'number'))
      throw new BundleError(spec.file, `dimension ${rest.find((d) => typeof d !== 'number')} must be fixed`, { field: `stages.lowLevelDecoder.inputs.${role}.shape`, expected: 'numbers after the batch dimension' });
    return { n: rest.reduce((a, b) => a * b, 1), dims: [rows, ...rest] };
  };
  if (spec.inputs.prior_noise) {
    const { n, dims } = per('prior_noise');
    const t = settingNumber(spec.settings, 'priorTemperature', 1);
    const noise = deterministic ? new Float32Array(rows * n) : batchNoise(seed, rows, n, 'lowlevel/prior');
    if (t !== 1) for (let i = 0; i < noise.length; i++) noise[i] *= t;
    out.prior_noise = { data: noise, dims };
  }
  const [low, high] = settingNumbers(spec.settings, 'uniformRange', DEFAULT_UNIFORM_RANGE);
  for (const [role, stream] of [['mix_uniform', 'lowlevel/mixture'], ['pixel_uniform', 'lowlevel/logistic']] as const) {
    if (!spec.inputs[role]) continue;
    const { n, dims } = per(role);
    out[role] = { data: deterministic ? new Float32Array(rows * n).fill(0.5) : batchUniform(seed, rows, n, stream, low, high), dims };
  }
  return out;
}

/** The low-level image of one trial's decoded latents (the same for both samplers). */
export async function decodeLowLevel(sessions: PackSessions, latents: Float32Array, seed: number, io: Transfers): Promise<RgbImage> {
  const st = sessions.pack.manifest.stages.lowLevelDecoder;
  const feeds: Record<string, { data: Float32Array; bind: Record<string, number> }> = {
    latents: { data: latents, bind: { batch: 1 } },
  };
  for (const [role, r] of Object.entries(lowLevelRandomInputs(st, 1, seed))) feeds[role] = { data: r.data, bind: { batch: 1 } };
  const out = await sessions.run('lowLevelDecoder', feeds, ['px'] as const, io);
  const [lo, hi] = settingNumbers(st.settings, 'outputRange', [-1, 1]);
  if (st.settings.pixelLayout === 'nchw') {
    const [, , h, w] = out.px.dims;
    const scaled = out.px.data.map((v) => (v - lo) / (hi - lo));
    return chwToRgb(scaled, 0, w, h);
  }
  const [, h, w] = out.px.dims;
  const scaled = lo === -1 && hi === 1 ? out.px.data : out.px.data.map((v) => ((v - lo) / (hi - lo)) * 2 - 1);
  return vdvaeToRgb(scaled, w, h);
}
