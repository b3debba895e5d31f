// The diffusion sampler of Stable Cascade / Würstchen v3 (Stability-AI/StableCascade `gdf`), in
// TypeScript so that the loop, the schedule and the noise are ours and identical on every backend;
// the ONNX runtime only evaluates the denoiser. Facts followed (read from the public gdf module):
// - schedule: CosineSchedule(s = 0.008, clamp_range = [1e-4, 0.9999]):
//     var(t) = clamp(cos((s + t)/(1 + s) · π/2)² / cos(s/(1 + s) · π/2)², 1e-4, 0.9999),
//     logSNR(t) = log(var / (1 − var)); a shift adds 2·log(1/shift) to logSNR, and the result is
//     clamped to the unshifted limits [logSNR(1), logSNR(0)].
// - input scaler VPScaler: a = sqrt(sigmoid(logSNR)), b = sqrt(1 − a²); x_t = a·x0 + b·ε.
// - target EpsilonTarget: the model predicts ε; x0 = (x_t − b·ε̂)/a.
// - noise condition CosineTNoiseCond: r = acos(sqrt(sigmoid(logSNR)·min_var))/(π/2)·(1 + s) − s,
//   the `r` input of stages C and B.
// - GDF.sample: t runs linspace(t_start, t_end, steps + 1); classifier-free guidance runs the model
//   on [x; x] with [cond; uncond] inputs, pred = lerp(uncond, cond, cfg), then (cfg_rho > 0) rescales
//   toward the conditional prediction's std: pred = ρ·pred_cfg·std(cond)/(std(pred_cfg) + 1e-9) +
//   (1 − ρ)·pred_cfg (std over the whole batch tensor, unbiased, as torch's .std()). cfg_rho
//   defaults to 0.7 in gdf.sample.
// - DDPMSampler = DDIM with η = 1: σ = sqrt(b_prev²/b²)·sqrt(1 − a²/a_prev²),
//   x = a_prev·x0 + sqrt(b_prev² − σ²)·ε̂ + σ·z.
// - img2img (Stable Cascade's notebook, MIRAGE): x_init = diffuse(latent, t = strength) with the
//   unshifted schedule, sampling from t_start = strength with int(steps · strength) steps.
import { AbortError } from '../base/errors.ts';
import { batchNoise } from '../base/rng.ts';

export const COSINE_S = 0.008;
const CLAMP_MIN = 1e-4;
const CLAMP_MAX = 0.9999;
const MIN_VAR = Math.cos((COSINE_S / (1 + COSINE_S)) * Math.PI * 0.5) ** 2;

function rawCosineLogSNR(t: number): number {
  const tc = Math.min(1, Math.max(0, t));
  const c = Math.cos(((COSINE_S + tc) / (1 + COSINE_S)) * Math.PI * 0.5);
  let v = Math.min(1, Math.max(0, c)) ** 2 / MIN_VAR;
  v = Math.min(CLAMP_MAX, Math.max(CLAMP_MIN, v));
  return Math.log(v / (1 - v));
}

/** Limits set at construction (shift 1): [logSNR(1), logSNR(0)]. */
export const LOGSNR_LIMITS: readonly [number, number] = [rawCosineLogSNR(1), rawCosineLogSNR(0)];

/** Stable Cascade's cosine schedule with the log-SNR shift. */
export function cosineLogSNR(t: number, shift = 1): number {
  let l = rawCosineLogSNR(t);
  if (shift !== 1) l += 2 * Math.log(1 / shift);
  return Math.min(LOGSNR_LIMITS[1], Math.max(LOGSNR_LIMITS[0], l));
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** VPScaler: signal and noise scales at a log-SNR. */
export function vpScalers(logSNR: number): { a: number; b: number } {
  const a2 = sigmoid(logSNR);
  return { a: Math.sqrt(a2), b: Math.sqrt(1 - a2) };
}

/** CosineTNoiseCond: the `r` the denoisers take (≈ t for shift 1), clamped var in [0, 1]. */
export function noiseCond(logSNR: number): number {
  const v = Math.min(1, Math.max(0, sigmoid(logSNR)));
  return (Math.acos(Math.sqrt(v * MIN_VAR)) / (Math.PI * 0.5)) * (1 + COSINE_S) - COSINE_S;
}

/** Number of steps of an img2img run: Python's int(steps × strength). */
export function img2imgSteps(steps: number, strength: number): number {
  return Math.trunc(steps * strength);
}

/** torch.linspace(start, end, n) values. */
export function linspace(start: number, end: number, n: number): number[] {
  if (n === 1) return [start];
  const step = (end - start) / (n - 1);
  return Array.from({ length: n }, (_, i) => (i < n / 2 ? start + i * step : end - (n - 1 - i) * step));
}

/**
 * A denoiser evaluated by the pipeline: ε̂ for `x` ([rows, ...latent]) at noise level `r`.
 * With guidance the rows are [x; x] and the model must pair the first half with the conditional
 * inputs and the second half with the unconditional ones.
 */
export interface Denoiser {
  predict(x: Float32Array, r: number, rows: number, guided: boolean): Promise<Float32Array>;
}

/** The schedule, guidance and noise of a sampling run: what both samplers (this one and gpuSteps.ts's step graphs) take. */
export interface SamplerSchedule {
  /** Candidates (batch rows). */
  batch: number;
  steps: number;
  /** t_start (1 for a full run, the strength for img2img) and t_end (0). */
  tStart?: number;
  tEnd?: number;
  /** Guidance scale; null = no guidance (one model call per step). */
  cfg: number | null;
  /** gdf.sample's std rescale (0 = plain CFG); default 0.7 as in gdf. */
  cfgRho?: number;
  shift?: number;
  seed: number;
  /** Names the noise streams, e.g. "prior" or "decoder" (different stages draw different noise). */
  stream: string;
  signal?: AbortSignal;
}

export interface SampleOptions extends SamplerSchedule {
  /** Values per candidate (e.g. 16·24·24). */
  latentSize: number;
  /** Starting point [batch · latentSize]; default N(0, I) noise from the seed. */
  xInit?: Float32Array;
  /** Called after every step with the step index (1-based) and the total. */
  onStep?: (step: number, total: number, x0: Float32Array) => void;
}

/** One step of a schedule: the denoiser's noise condition r and the DDPM update's scalars. */
export interface SamplerStep {
  r: number;
  k: DdpmCoefficients;
}

/** Every step of a schedule (shared by both samplers, so that they walk the same times). */
export function samplerSteps(o: SamplerSchedule): SamplerStep[] {
  const logSNR = stepLogSNRs(o.steps, o.tStart ?? 1, o.tEnd ?? 0, o.shift ?? 1);
  return Array.from({ length: o.steps }, (_, i) => ({ r: noiseCond(logSNR[i]), k: ddpmCoefficients(logSNR[i], logSNR[i + 1]) }));
}

/** The seeded starting noise and per-step noise of a schedule (identical on every backend). */
export const initNoise = (o: SamplerSchedule, latentSize: number) => batchNoise(o.seed, o.batch, latentSize, `${o.stream}/init`);
export const stepNoise = (o: SamplerSchedule, latentSize: number, i: number) => batchNoise(o.seed, o.batch, latentSize, `${o.stream}/step${i}`);

function std(x: Float32Array, from: number, to: number): number {
  const n = to - from;
  let m = 0;
  for (let i = from; i < to; i++) m += x[i];
  m /= n;
  let v = 0;
  for (let i = from; i < to; i++) v += (x[i] - m) ** 2;
  return Math.sqrt(v / (n - 1));
}

/** Combines [cond; uncond] predictions into the guided prediction (lerp + optional std rescale). */
export function applyGuidance(both: Float32Array, rows: number, perRow: number, cfg: number, cfgRho: number): Float32Array {
  const n = rows * perRow;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = both[n + i] + cfg * (both[i] - both[n + i]);
  if (cfgRho > 0) {
    const sPos = std(both, 0, n);
    const sCfg = std(out, 0, n);
    const k = (cfgRho * sPos) / (sCfg + 1e-9) + (1 - cfgRho);
    for (let i = 0; i < n; i++) out[i] *= k;
  }
  return out;
}

/** Noises clean latents to time t (gdf.diffuse, unshifted by default): a·x0 + b·ε. */
export function diffuse(x0: Float32Array, t: number, noise: Float32Array, shift = 1): Float32Array {
  const { a, b } = vpScalers(cosineLogSNR(t, shift));
  const out = new Float32Array(x0.length);
  for (let i = 0; i < x0.length; i++) out[i] = a * x0[i] + b * noise[i];
  return out;
}

/** log-SNR at each of the steps + 1 times linspace(t_start, t_end) (shifted schedule). */
export function stepLogSNRs(steps: number, tStart = 1, tEnd = 0, shift = 1): number[] {
  return linspace(tStart, tEnd, steps + 1).map((t) => cosineLogSNR(t, shift));
}

/** The scalars of one DDPM (DDIM η = 1) step from log-SNR `l` to `lNext`: x0 = (x − b·ε̂)/a, x' = ap·x0 + epsScale·ε̂ + sigma·z. */
export interface DdpmCoefficients {
  a: number;
  b: number;
  ap: number;
  sigma: number;
  epsScale: number;
}

export function ddpmCoefficients(l: number, lNext: number): DdpmCoefficients {
  const { a, b } = vpScalers(l);
  const { a: ap, b: bp } = vpScalers(lNext);
  const sigma = Math.sqrt((bp * bp) / (b * b)) * Math.sqrt(Math.max(0, 1 - (a * a) / (ap * ap)));
  const epsScale = Math.sqrt(Math.max(0, bp * bp - sigma * sigma));
  return { a, b, ap, sigma, epsScale };
}

/** Runs the reverse process; returns the final x (Stable Cascade returns x after the last step). */
export async function sample(model: Denoiser, o: SampleOptions): Promise<Float32Array> {
  const { latentSize, batch, stream } = o;
  const cfgRho = o.cfgRho ?? 0.7;
  const n = batch * latentSize;
  let x = o.xInit ? Float32Array.from(o.xInit) : initNoise(o, latentSize);
  if (x.length !== n) throw new RangeError(`sample(${stream}): xInit has ${x.length} values, expected ${batch}x${latentSize}`);
  const plan = samplerSteps(o);
  const guided = o.cfg !== null;
  for (let i = 0; i < plan.length; i++) {
    if (o.signal?.aborted) throw new AbortError();
    const { r, k } = plan[i];
    let pred: Float32Array;
    if (guided) {
      const xx = new Float32Array(2 * n);
      xx.set(x, 0);
      xx.set(x, n);
      const both = await model.predict(xx, r, 2 * batch, true);
      if (both.length !== 2 * n) throw new RangeError(`sample(${stream}): denoiser returned ${both.length} values, expected ${2 * n}`);
      pred = applyGuidance(both, batch, latentSize, o.cfg as number, cfgRho);
    } else {
      pred = await model.predict(x, r, batch, false);
    }
    if (o.signal?.aborted) throw new AbortError();
    const { a, b, ap, sigma, epsScale } = k;
    const z = sigma > 0 ? stepNoise(o, latentSize, i) : null;
    const x0 = new Float32Array(n);
    const next = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      x0[j] = (x[j] - pred[j] * b) / a;
      next[j] = ap * x0[j] + epsScale * pred[j] + (z ? sigma * z[j] : 0);
    }
    x = next;
    o.onStep?.(i + 1, plan.length, x0);
  }
  return x;
}
