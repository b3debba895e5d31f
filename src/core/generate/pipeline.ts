// MIRAGE's reconstruction (REFERENCE.md §4) over a model pack, in the spirit of transformers.js's
// pipelines: model loading (modelPack.ts, sessions.ts) is apart; this file is the algorithm.
//   low-level latents -> lowLevelDecoder -> 64x64 -> enhance (PIL semantics) -> latentEncoder
//   -> noise to t = strength -> priorDenoiser steps (MIRAGE's guidance mix, CFG) -> latentDecoder
//   steps -> pixelDecoder -> candidates -> imageEncoder + cosine to the decoded retrieval embedding
//   -> best candidate; captionDecoder greedy-decodes the decoded prompt features.
// Progress is reported per stage and per step; the AbortSignal is checked between every step.
// Two samplers, same numbers (to float32 rounding; test/unit/generate/pipelineGraphs.test.ts):
// - 'typescript' (the default on wasm): sampler.ts on CPU arrays; every stage output comes back.
// - 'graphs' (the default on WebGPU): the sampler's arithmetic as ONNX step graphs (gpuSteps.ts),
//   so the latents stay on the device from the latent encoder to the pixel decoder. What crosses
//   is counted in `Reconstruction.transfers` (docs/model-packs.md, "GPU residency").
import { AbortError, BundleError } from '../base/errors.ts';
import { enhanceLowLevel, resizePil, type EnhanceSettings, type RgbImage } from './enhance.ts';
import { STAGE_IO, type LoadedModelPack, type StageName } from './modelPack.ts';
import { cosine } from '../tensor/vector.ts';
import { batchNoise } from '../base/rng.ts';
import { diffuse, img2imgSteps, sample, vpScalers, cosineLogSNR, type Denoiser, type SamplerSchedule } from './sampler.ts';
import type { PackSessions } from './sessions.ts';
import {
  cosineScoreGraph,
  diffuseGraph,
  lastPositionGraph,
  padZerosGraph,
  sampleOnGraphs,
  splitRowsGraph,
  Transfers,
  type TensorDenoiser,
  type TransferStats,
} from './gpuSteps.ts';
import { ort } from '../onnx/runtime.ts';

export interface DiffusionStageSettings {
  steps: number;
  /** Classifier-free guidance scale (null: no guidance). */
  cfg: number | null;
  /** gdf.sample's cfg_rho (std rescale of the guided prediction); 0 = plain CFG. */
  cfgRho: number;
  /** Log-SNR shift of the cosine schedule. */
  shift: number;
}

export interface GenerateSettings {
  seed: number;
  /** Candidates generated as one batch; retrieval pooling picks one. */
  candidates: number;
  /** img2img strength: the prior starts at t = strength from the noised low-level latent (1 = from noise). */
  strength: number;
  /** MIRAGE's text strength; image strength = 1 − textStrength. */
  textStrength: number;
  prior: DiffusionStageSettings;
  decoder: DiffusionStageSettings;
  enhance: EnhanceSettings;
  /** Greedy caption length limit (MIRAGE: 20 tokens). */
  captionMaxTokens: number;
  /** Skip the low-level branch (pure text/image-conditioned generation from noise). */
  useLowLevel: boolean;
}

/** MIRAGE's defaults (REFERENCE.md §4). cfgRho 0.7 is gdf.sample's default, which Stable Cascade's notebooks keep. */
export const MIRAGE_DEFAULTS: GenerateSettings = {
  seed: 0,
  candidates: 16,
  strength: 0.7,
  textStrength: 0.5,
  prior: { steps: 20, cfg: 4, cfgRho: 0.7, shift: 2 },
  decoder: { steps: 10, cfg: 1.1, cfgRho: 0.7, shift: 1 },
  enhance: { size: 1024, sharpness: 20, contrast: 1.5 },
  captionMaxTokens: 20,
  useLowLevel: true,
};

/** Settings with nested defaults filled in. */
export function withDefaults(s: Partial<GenerateSettings> = {}): GenerateSettings {
  return {
    ...MIRAGE_DEFAULTS,
    ...s,
    prior: { ...MIRAGE_DEFAULTS.prior, ...s.prior },
    decoder: { ...MIRAGE_DEFAULTS.decoder, ...s.decoder },
    enhance: { ...MIRAGE_DEFAULTS.enhance, ...s.enhance },
  };
}

/** The five decoded heads of one trial (after MIRAGE's normalisation), flattened. */
export interface DecodedHeads {
  image: Float32Array;
  text: Float32Array;
  blurry: Float32Array;
  retrieval: Float32Array;
  prompt: Float32Array;
}

export const PIPELINE_STAGES = [
  'lowLevel',
  'enhance',
  'latentEncode',
  'prior',
  'decoder',
  'pixels',
  'retrieval',
  'caption',
] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

export interface GenerateProgress {
  stage: PipelineStage;
  /** Steps done in this stage and the stage's total. */
  step: number;
  total: number;
  /** Index of the stage in PIPELINE_STAGES and the count, for an overall bar. */
  stageIndex: number;
  stageCount: number;
}

export interface Reconstruction {
  lowLevel: RgbImage | null;
  enhanced: RgbImage | null;
  candidates: RgbImage[];
  /** Cosine similarity of each candidate's encoded hidden states to the decoded retrieval embedding. */
  scores: number[];
  best: number;
  caption: string;
  captionTokens: number[];
  settings: GenerateSettings;
  /** Milliseconds per stage. */
  timings: Record<PipelineStage, number>;
  /** Which sampler ran ('graphs': step graphs, tensors left on the device under WebGPU). */
  sampler: SamplerKind;
  /** Where each pack stage ran in this run (after any fallback or placement): what ran where. */
  providers: Record<StageName, 'webgpu' | 'wasm'>;
  /** CPU<->GPU crossings of this run (all zero on wasm), with bytes, per tensor label. */
  transfers: TransferStats;
}

export type SamplerKind = 'typescript' | 'graphs';

export interface ReconstructOptions {
  signal?: AbortSignal;
  onProgress?: (p: GenerateProgress) => void;
  onLowLevel?: (low: RgbImage, enhanced: RgbImage) => void;
  /** Default: 'graphs' when a denoiser stage runs on WebGPU, 'typescript' otherwise. */
  sampler?: SamplerKind;
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];
const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

function num(settings: Record<string, unknown>, key: string, fallback: number): number {
  const v = settings[key];
  return typeof v === 'number' ? v : fallback;
}
function nums(settings: Record<string, unknown>, key: string, fallback: number[]): number[] {
  const v = settings[key];
  return Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : fallback;
}

/** uint8 HWC -> float32 CHW, x/255 then (x − mean)/std per channel. */
export function toNormalizedChw(img: RgbImage, mean: number[], std: number[]): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) out[c * n + i] = (img.data[i * 3 + c] / 255 - mean[c]) / std[c];
  }
  return out;
}

/** float32 CHW in [0, 1] -> uint8 HWC the way torchvision's to_pil_image does (clamp, ×255, truncate). */
export function chwToRgb(chw: Float32Array, offset: number, width: number, height: number): RgbImage {
  const n = width * height;
  const data = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.min(1, Math.max(0, chw[offset + c * n + i]));
      data[i * 3 + c] = Math.trunc(v * 255);
    }
  }
  return { width, height, data };
}

/** VDVAE's DmolNet.sample output convention: [-1, 1] HWC -> uint8 by clamp((x + 1)·127.5) and truncation. */
export function vdvaeToRgb(hwc: Float32Array, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.trunc(Math.min(255, Math.max(0, (hwc[i] + 1) * 127.5)));
  return { width, height, data };
}

/** Center crop to a square of `size` after resizing the short side to `size` (CLIP preprocessing). */
export function resizeCenterCrop(img: RgbImage, size: number, filter: 'bicubic' | 'lanczos'): RgbImage {
  const scale = size / Math.min(img.width, img.height);
  const w = Math.max(size, Math.round(img.width * scale));
  const h = Math.max(size, Math.round(img.height * scale));
  const r = w === img.width && h === img.height ? img : resizePil(img, w, h, filter);
  if (w === size && h === size) return r;
  const x0 = Math.round((w - size) / 2);
  const y0 = Math.round((h - size) / 2);
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) data.set(r.data.subarray(((y + y0) * w + x0) * 3, ((y + y0) * w + x0 + size) * 3), y * size * 3);
  return { width: size, height: size, data };
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

/** WordPiece detokenisation: "##" pieces glue to the previous word; special tokens ([CLS] …) dropped. */
export function detokenize(ids: number[], vocab: string[]): string {
  let out = '';
  for (const id of ids) {
    const t = vocab[id] ?? '';
    if (!t || /^\[.*\]$/.test(t) || /^<.*>$/.test(t)) continue;
    if (t.startsWith('##')) out += t.slice(2);
    else out += (out ? ' ' : '') + t;
  }
  return out;
}

function repeatRows(row: Float32Array, rows: number): Float32Array {
  const out = new Float32Array(row.length * rows);
  for (let i = 0; i < rows; i++) out.set(row, i * row.length);
  return out;
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function elementCount(sessions: PackSessions, stage: StageName, dir: 'inputs' | 'outputs', role: string): number {
  const spec = sessions.pack.manifest.stages[stage][dir][role];
  let n = 1;
  for (const d of spec.shape.slice(1)) {
    if (typeof d !== 'number') {
      throw new BundleError(sessions.pack.manifest.stages[stage].file, `dimension "${d}" must be fixed`, {
        field: `stages.${stage}.${dir}.${role}.shape`,
        expected: 'a number after the batch dimension',
      });
    }
    n *= d;
  }
  return n;
}

/** A stage of the pack as a Denoiser for the sampler: conditioning rows prepared once per run. */
class StageDenoiser implements Denoiser {
  constructor(
    private readonly sessions: PackSessions,
    private readonly stage: 'priorDenoiser' | 'latentDecoder',
    /** role -> [cond rows; uncond rows] (2·batch rows) and cond rows only (batch rows). */
    private readonly guidedCond: Record<string, Float32Array>,
    private readonly plainCond: Record<string, Float32Array>,
    private readonly io: Transfers,
  ) {}

  async predict(x: Float32Array, r: number, rows: number, guided: boolean): Promise<Float32Array> {
    const feeds: Record<string, { data: Float32Array; bind: Record<string, number> }> = {
      x: { data: x, bind: { batch: rows } },
      r: { data: new Float32Array(rows).fill(r), bind: { batch: rows } },
    };
    const cond = guided ? this.guidedCond : this.plainCond;
    for (const [role, data] of Object.entries(cond)) feeds[role] = { data, bind: { batch: rows } };
    const out = await this.sessions.run(this.stage, feeds, ['pred'] as const, this.io);
    return out.pred.data;
  }
}

/** Runs the whole reconstruction for one trial's decoded heads. */
export async function reconstruct(
  sessions: PackSessions,
  decoded: DecodedHeads,
  partial: Partial<GenerateSettings> = {},
  opts: ReconstructOptions = {},
): Promise<Reconstruction> {
  const settings = withDefaults(partial);
  // step graphs where a denoiser runs on WebGPU (the latent stays there); on wasm the TypeScript
  // loop is cheaper than a graph run per step
  const samplerKind: SamplerKind = opts.sampler ?? (sessions.onGpu('priorDenoiser') || sessions.onGpu('latentDecoder') ? 'graphs' : 'typescript');
  const io = new Transfers();
  try {
    return samplerKind === 'graphs'
      ? await reconstructOnGraphs(sessions, decoded, settings, opts, io)
      : await reconstructTs(sessions, decoded, settings, opts, io);
  } finally {
    io.releaseAll();
  }
}

/** Checks shared by both samplers; returns the progress/timing helpers. */
function begin(sessions: PackSessions, decoded: DecodedHeads, settings: GenerateSettings, opts: ReconstructOptions) {
  const pack: LoadedModelPack = sessions.pack;
  const m = pack.manifest;
  const N = settings.candidates;
  if (!Number.isInteger(N) || N < 1) throw new RangeError(`candidates must be a positive integer (got ${N})`);
  if (!(settings.strength > 0 && settings.strength <= 1)) throw new RangeError(`strength must be in (0, 1] (got ${settings.strength})`);
  for (const head of ['image', 'text', 'blurry', 'retrieval', 'prompt'] as const) {
    const want = m.headShapes[head].reduce((a, b) => a * b, 1);
    if (decoded[head].length !== want) {
      throw new BundleError(`${pack.source.label}/modelpack.json`, `decoded ${head} head has ${decoded[head].length} values`, {
        field: `headShapes.${head}`,
        expected: `[${m.headShapes[head].join(', ')}] = ${want}`,
      });
    }
  }
  const timings = Object.fromEntries(PIPELINE_STAGES.map((s) => [s, 0])) as Record<PipelineStage, number>;
  const check = () => {
    if (opts.signal?.aborted) throw new AbortError();
  };
  const progress = (stage: PipelineStage, step: number, total: number) =>
    opts.onProgress?.({ stage, step, total, stageIndex: PIPELINE_STAGES.indexOf(stage), stageCount: PIPELINE_STAGES.length });
  const timed = async <T>(stage: PipelineStage, fn: () => Promise<T> | T): Promise<T> => {
    check();
    const t0 = performance.now();
    const r = await fn();
    timings[stage] += performance.now() - t0;
    check();
    return r;
  };
  return { pack, m, N, timings, check, progress, timed };
}

/** The low-level branch (VDVAE -> 64x64 -> enhancement), the same for both samplers. */
async function lowLevelBranch(sessions: PackSessions, decoded: DecodedHeads, settings: GenerateSettings, ctx: ReturnType<typeof begin>, io: Transfers) {
  const { m, timed, progress } = ctx;
  const lowLevel = await timed('lowLevel', async () => {
      progress('lowLevel', 0, 1);
      const st = m.stages.lowLevelDecoder;
      const feeds: Record<string, { data: Float32Array; bind: Record<string, number> }> = {
        latents: { data: decoded.blurry, bind: { batch: 1 } },
      };
      if (st.inputs.prior_noise) {
        // VDVAE's layers beyond the decoded ones: sampled from the prior with seeded noise.
        const priorN = elementCount(sessions, 'lowLevelDecoder', 'inputs', 'prior_noise');
        const temperature = num(st.settings, 'priorTemperature', 1);
        const noise = batchNoise(settings.seed, 1, priorN, 'lowlevel/prior');
        if (temperature !== 1) for (let i = 0; i < noise.length; i++) noise[i] *= temperature;
        feeds.prior_noise = { data: noise, bind: { batch: 1 } };
      }
      const out = await sessions.run('lowLevelDecoder', feeds, ['px'] as const, io);
      progress('lowLevel', 1, 1);
      const [lo, hi] = nums(st.settings, 'outputRange', [-1, 1]);
      if (st.settings.pixelLayout === 'nchw') {
        const [, , h, w] = out.px.dims;
        const scaled = out.px.data.map((v) => (v - lo) / (hi - lo));
        return chwToRgb(scaled, 0, w, h);
      }
      const [, h, w] = out.px.dims;
      const scaled = lo === -1 && hi === 1 ? out.px.data : out.px.data.map((v) => ((v - lo) / (hi - lo)) * 2 - 1);
      return vdvaeToRgb(scaled, w, h);
  });
  const enhanced = await timed('enhance', () => {
    progress('enhance', 0, 1);
    const e = enhanceLowLevel(lowLevel, settings.enhance);
    progress('enhance', 1, 1);
    return e;
  });
  return { lowLevel, enhanced };
}

/** The latent encoder's input: the enhanced image at its size, normalised, CHW. */
function encoderInput(sessions: PackSessions, enhanced: RgbImage): Float32Array {
  const st = sessions.pack.manifest.stages.latentEncoder;
  const size = num(st.settings, 'inputSize', enhanced.width);
  const img = enhanced.width === size && enhanced.height === size ? enhanced : resizePil(enhanced, size, size, 'lanczos');
  return toNormalizedChw(img, nums(st.settings, 'mean', IMAGENET_MEAN), nums(st.settings, 'std', IMAGENET_STD));
}

/** MIRAGE's guidance mix of the prior's conditioning, [cond] and [uncond] rows for N candidates. */
function priorConditioning(pack: LoadedModelPack, decoded: DecodedHeads, settings: GenerateSettings, N: number) {
  const ts = settings.textStrength;
  const is = 1 - ts;
  const u = pack.unconditional;
  const clipImg = new Float32Array(decoded.image.length);
  for (let i = 0; i < clipImg.length; i++) clipImg[i] = decoded.image[i] * is + u.clipImg[i] * ts ** 5;
  const clipText = new Float32Array(decoded.text.length);
  for (let i = 0; i < clipText.length; i++) clipText[i] = decoded.text[i] * ts + u.clipText[i] * is ** 5;
  const cond = { clip_img: repeatRows(clipImg, N), clip_text: repeatRows(clipText, N), clip_text_pooled: repeatRows(u.clipTextPooled, N) };
  const uncond = { clip_img: repeatRows(u.clipImg, N), clip_text: repeatRows(u.clipText, N), clip_text_pooled: repeatRows(u.clipTextPooled, N) };
  const guided = {
    clip_img: concat(cond.clip_img, uncond.clip_img),
    clip_text: concat(cond.clip_text, uncond.clip_text),
    clip_text_pooled: concat(cond.clip_text_pooled, uncond.clip_text_pooled),
  };
  return { cond, guided };
}

/**
 * A diffusion stage's schedule for either sampler: its steps, guidance and shift, the seed, and the
 * img2img start (the prior from t = strength; the noise stream is named after the stage).
 */
function schedule(settings: GenerateSettings, stream: 'prior' | 'decoder', batch: number, steps: number, img2img: boolean, signal?: AbortSignal): SamplerSchedule {
  const st = settings[stream];
  return { batch, steps, tStart: img2img ? settings.strength : 1, cfg: st.cfg, cfgRho: st.cfgRho, shift: st.shift, seed: settings.seed, stream, signal };
}

function providers(sessions: PackSessions): Record<StageName, 'webgpu' | 'wasm'> {
  return Object.fromEntries((Object.keys(STAGE_IO) as StageName[]).map((st) => [st, sessions.onGpu(st) ? 'webgpu' : 'wasm'])) as Record<StageName, 'webgpu' | 'wasm'>;
}

function bestIndex(scores: number[]): number {
  let best = 0;
  for (let k = 1; k < scores.length; k++) if (scores[k] > scores[best]) best = k;
  return best;
}

/** The TypeScript sampler over CPU arrays (the wasm path). */
async function reconstructTs(sessions: PackSessions, decoded: DecodedHeads, settings: GenerateSettings, opts: ReconstructOptions, io: Transfers): Promise<Reconstruction> {
  const ctx = begin(sessions, decoded, settings, opts);
  const { pack, m, N, timings, check, progress, timed } = ctx;

  // 1-3. Low-level image, enhancement, latent for img2img.
  let lowLevel: RgbImage | null = null;
  let enhanced: RgbImage | null = null;
  let xInitPrior: Float32Array | undefined;
  const cLatent = elementCount(sessions, 'priorDenoiser', 'inputs', 'x');
  if (settings.useLowLevel) {
    ({ lowLevel, enhanced } = await lowLevelBranch(sessions, decoded, settings, ctx, io));
    opts.onLowLevel?.(lowLevel, enhanced);
    // a const for the closure (`enhanced` is a nullable let); the resize to the encoder's input
    // size runs inside the timed stage, so it counts in latentEncode's time
    const toEncode = enhanced;
    const latent = await timed('latentEncode', async () => {
      progress('latentEncode', 0, 1);
      const chw = encoderInput(sessions, toEncode);
      const out = await sessions.run('latentEncoder', { images: { data: chw, bind: { batch: 1 } } }, ['latents'] as const, io);
      progress('latentEncode', 1, 1);
      return out.latents.data;
    });
    checkLatent(m.stages.latentEncoder.file, latent.length, cLatent);
    // 4. Noise to t = strength (gdf.diffuse, unshifted), one noise draw per candidate.
    if (settings.strength < 1) {
      xInitPrior = diffuse(repeatRows(latent, N), settings.strength, batchNoise(settings.seed, N, cLatent, 'prior/img2img'));
    }
  }

  // 5. Prior (stage C) with MIRAGE's guidance mix.
  const condC = priorConditioning(pack, decoded, settings, N);
  const priorDenoiser = new StageDenoiser(sessions, 'priorDenoiser', condC.guided, condC.cond, io);
  const img2img = xInitPrior !== undefined;
  const priorSteps = img2img ? img2imgSteps(settings.prior.steps, settings.strength) : settings.prior.steps;
  const latentC = await timed('prior', async () => {
    progress('prior', 0, priorSteps);
    if (priorSteps === 0) return xInitPrior as Float32Array;
    return sample(priorDenoiser, {
      ...schedule(settings, 'prior', N, priorSteps, img2img, opts.signal),
      latentSize: cLatent,
      xInit: xInitPrior,
      onStep: (s, t) => progress('prior', s, t),
    });
  });

  // 6. Decoder (stage B): conditioned on stage C's output; unconditional branch has zero effnet.
  const bLatent = elementCount(sessions, 'latentDecoder', 'inputs', 'x');
  const pooledRows = repeatRows(pack.unconditional.clipTextPooled, N);
  const decoderDenoiser = new StageDenoiser(
    sessions,
    'latentDecoder',
    { effnet: concat(latentC, new Float32Array(latentC.length)), clip: concat(pooledRows, pooledRows) },
    { effnet: latentC, clip: pooledRows },
    io,
  );
  const latentB = await timed('decoder', () => {
    progress('decoder', 0, settings.decoder.steps);
    return sample(decoderDenoiser, {
      ...schedule(settings, 'decoder', N, settings.decoder.steps, false, opts.signal),
      latentSize: bLatent,
      onStep: (s, t) => progress('decoder', s, t),
    });
  });

  // 7. Pixels (stage A): the candidates in as few runs as memory allows (rowsPerRun).
  const candidates = await timed('pixels', async () => {
    const out: RgbImage[] = [];
    const per = rowsPerRun(sessions, 'pixelDecoder', N);
    for (let k0 = 0; k0 < N; k0 += per) {
      check();
      progress('pixels', k0, N);
      const rows = Math.min(per, N - k0);
      const res = await sessions.run('pixelDecoder', { latents: { data: latentB.subarray(k0 * bLatent, (k0 + rows) * bLatent), bind: { batch: rows } } }, ['images'] as const, io);
      const [, , h, w] = res.images.dims;
      for (let j = 0; j < rows; j++) out.push(chwToRgb(res.images.data, j * 3 * h * w, w, h));
    }
    progress('pixels', N, N);
    return out;
  });

  // 8. Retrieval pooling: the candidates encoded in as few runs as memory allows.
  const dim = m.headShapes.retrieval[m.headShapes.retrieval.length - 1];
  const target = normalizeTokens(Float32Array.from(decoded.retrieval), dim);
  const scores = await timed('retrieval', async () => {
    const s: number[] = [];
    const per = rowsPerRun(sessions, 'imageEncoder', N);
    for (let k0 = 0; k0 < N; k0 += per) {
      check();
      progress('retrieval', k0, N);
      const rows = Math.min(per, N - k0);
      const res = await sessions.run('imageEncoder', { pixel_values: { data: clipInputs(sessions, candidates.slice(k0, k0 + rows)), bind: { batch: rows } } }, ['last_hidden_state'] as const, io);
      const len = res.last_hidden_state.data.length / rows;
      for (let j = 0; j < rows; j++) s.push(cosine(normalizeTokens(res.last_hidden_state.data.slice(j * len, (j + 1) * len), dim), target));
    }
    progress('retrieval', N, N);
    return s;
  });

  // 9. Caption: greedy decoding of the decoded prompt features.
  const { caption, captionTokens } = await timed('caption', () => decodeCaption(sessions, decoded.prompt, settings.captionMaxTokens, opts.signal, (s, t) => progress('caption', s, t), io));

  return { lowLevel, enhanced, candidates, scores, best: bestIndex(scores), caption, captionTokens, settings, timings, sampler: 'typescript', providers: providers(sessions), transfers: io.stats };
}

function checkLatent(file: string, got: number, want: number): void {
  if (got !== want) {
    throw new BundleError(file, `latent has ${got} values`, { field: 'stages.latentEncoder.outputs.latents', expected: `${want} (the prior's x)` });
  }
}

/** The image encoder's input for candidates: bicubic resize + centre crop, CLIP normalisation, CHW, one row each. */
function clipInputs(sessions: PackSessions, imgs: RgbImage[]): Float32Array {
  const st = sessions.pack.manifest.stages.imageEncoder;
  const size = num(st.settings, 'inputSize', 224);
  const row = 3 * size * size;
  const out = new Float32Array(imgs.length * row);
  const mean = nums(st.settings, 'mean', CLIP_MEAN);
  const std = nums(st.settings, 'std', CLIP_STD);
  imgs.forEach((img, k) => out.set(toNormalizedChw(resizeCenterCrop(img, size, 'bicubic'), mean, std), k * row));
  return out;
}

/** Most bytes one tensor of a batched stage run may take (stage A at 1024² is 12.6 MB an image). */
export const BATCH_RUN_BYTES = 48 * 2 ** 20;

/**
 * Candidates per run of a per-candidate stage (pixel decoder, image encoder): all of them where
 * every input and output of the run stays under BATCH_RUN_BYTES, fewer for big images, 1 for a
 * stage whose batch dimension is fixed. One run instead of one per candidate: a GPU pays its
 * dispatch and matmul tiling costs per run (SwiftShader: a 16-row MatMul costs about one 1-row one).
 */
export function rowsPerRun(sessions: PackSessions, stage: StageName, candidates: number): number {
  const spec = sessions.pack.manifest.stages[stage];
  let rowBytes = 0;
  for (const ts of [...Object.values(spec.inputs), ...Object.values(spec.outputs)]) {
    if (typeof ts.shape[0] === 'number') return Math.max(1, Math.min(candidates, ts.shape[0]));
    const rest = ts.shape.slice(1);
    if (rest.every((d): d is number => typeof d === 'number')) rowBytes = Math.max(rowBytes, 4 * rest.reduce((a, b) => a * b, 1));
  }
  return Math.max(1, Math.min(candidates, Math.floor(BATCH_RUN_BYTES / Math.max(1, rowBytes))));
}

/** Per-candidate dims of a stage's tensor (shape after the batch dim; must be fixed). */
function rowDims(sessions: PackSessions, stage: StageName, dir: 'inputs' | 'outputs', role: string): number[] {
  elementCount(sessions, stage, dir, role); // names a symbolic dim
  return sessions.pack.manifest.stages[stage][dir][role].shape.slice(1) as number[];
}

/** A denoiser stage over runtime tensors: conditioning uploaded once per run, left on the device. */
class TensorStageDenoiser implements TensorDenoiser {
  constructor(
    private readonly sessions: PackSessions,
    private readonly stage: 'priorDenoiser' | 'latentDecoder',
    private readonly guidedCond: Record<string, ort.Tensor>,
    private readonly plainCond: Record<string, ort.Tensor>,
    private readonly io: Transfers,
  ) {}

  async predict(x: ort.Tensor, r: number, rows: number, guided: boolean): Promise<ort.Tensor> {
    const feeds: Record<string, ort.Tensor> = { x, r: new ort.Tensor('float32', new Float32Array(rows).fill(r), [rows]) };
    Object.assign(feeds, guided ? this.guidedCond : this.plainCond);
    return (await this.sessions.runTensors(this.stage, feeds, ['pred'] as const, this.io)).pred;
  }
}

/**
 * The sampler's arithmetic in step graphs (gpuSteps.ts). Under WebGPU, what crosses to the CPU:
 * the low-level image (shown; enhanced with Pillow-exact TypeScript), each candidate's pixels
 * (shown; PIL-exact bicubic resize for the image encoder), one retrieval score per candidate, the
 * caption's last-position logits per token. What goes up: the enhanced image, the conditioning
 * (once), the seeded noise (each draw once), r and the step scalars, the CLIP inputs, token ids.
 */
async function reconstructOnGraphs(sessions: PackSessions, decoded: DecodedHeads, settings: GenerateSettings, opts: ReconstructOptions, io: Transfers): Promise<Reconstruction> {
  const ctx = begin(sessions, decoded, settings, opts);
  const { pack, m, N, timings, check, progress, timed } = ctx;
  const graphs = sessions.steps;
  const cRow = rowDims(sessions, 'priorDenoiser', 'inputs', 'x');
  const cLatent = cRow.reduce((a, b) => a * b, 1);
  const up = (data: Float32Array, dims: number[], onGpu: boolean, label: string) => graphs.upload(data, dims, onGpu, io, label).then((t) => io.hold(t));

  // 1-4. Low-level image, enhancement, latent, img2img noising on the device.
  let lowLevel: RgbImage | null = null;
  let enhanced: RgbImage | null = null;
  let xInitPrior: ort.Tensor | undefined;
  const priorOnGpu = sessions.onGpu('priorDenoiser');
  if (settings.useLowLevel) {
    ({ lowLevel, enhanced } = await lowLevelBranch(sessions, decoded, settings, ctx, io));
    opts.onLowLevel?.(lowLevel, enhanced);
    // a const for the closure (`enhanced` is a nullable let); the resize to the encoder's input
    // size runs inside the timed stage, so it counts in latentEncode's time
    const toEncode = enhanced;
    const latent = await timed('latentEncode', async () => {
      progress('latentEncode', 0, 1);
      const chw = encoderInput(sessions, toEncode);
      const out = await sessions.runTensors('latentEncoder', { images: sessions.tensor('latentEncoder', 'images', { data: chw, bind: { batch: 1 } }) }, ['latents'] as const, io);
      progress('latentEncode', 1, 1);
      return io.hold(out.latents);
    });
    checkLatent(m.stages.latentEncoder.file, latent.size, cLatent);
    if (settings.strength < 1) {
      const { a, b } = vpScalers(cosineLogSNR(settings.strength));
      const noise = new ort.Tensor('float32', batchNoise(settings.seed, N, cLatent, 'prior/img2img'), [N, ...cRow]);
      const lat = latent.dims.length === cRow.length + 1 ? latent : latent.reshape([1, ...cRow]);
      const out = await graphs.run(`diffuse|${N}x${cRow.join('x')}`, priorOnGpu, () => diffuseGraph(cRow, N), { latent: lat, noise, coef: new ort.Tensor('float32', Float32Array.from([a, b]), [2]) }, io);
      xInitPrior = io.hold(out.x);
    }
  }

  // 5. Prior (stage C): conditioning uploaded once, reused by every step.
  const condC = priorConditioning(pack, decoded, settings, N);
  const condDims = (role: string, rows: number) => [rows, ...rowDims(sessions, 'priorDenoiser', 'inputs', role)];
  const guidedC: Record<string, ort.Tensor> = {};
  const plainC: Record<string, ort.Tensor> = {};
  const priorGuided = settings.prior.cfg !== null;
  for (const role of ['clip_img', 'clip_text', 'clip_text_pooled'] as const) {
    if (priorGuided) guidedC[role] = await up(condC.guided[role], condDims(role, 2 * N), priorOnGpu, `priorDenoiser/${role}`);
    else plainC[role] = await up(condC.cond[role], condDims(role, N), priorOnGpu, `priorDenoiser/${role}`);
  }
  const img2img = xInitPrior !== undefined;
  const priorSteps = img2img ? img2imgSteps(settings.prior.steps, settings.strength) : settings.prior.steps;
  const latentC = await timed('prior', async () => {
    progress('prior', 0, priorSteps);
    if (priorSteps === 0) return xInitPrior as ort.Tensor;
    const x = await sampleOnGraphs(new TensorStageDenoiser(sessions, 'priorDenoiser', guidedC, plainC, io), {
      ...schedule(settings, 'prior', N, priorSteps, img2img, opts.signal),
      rowDims: cRow,
      xInit: xInitPrior,
      onStep: (s, t) => progress('prior', s, t),
      onGpu: sessions.onGpu('priorDenoiser'),
      graphs,
      io,
    });
    return io.hold(x);
  });

  // 6. Decoder (stage B): effnet = stage C's output, still on the device; [x; 0] for CFG.
  const bRow = rowDims(sessions, 'latentDecoder', 'inputs', 'x');
  const decOnGpu = sessions.onGpu('latentDecoder');
  const effRow = rowDims(sessions, 'latentDecoder', 'inputs', 'effnet');
  const effnet = latentC.dims.length === effRow.length + 1 ? latentC : latentC.reshape([N, ...effRow]);
  const clipRow = rowDims(sessions, 'latentDecoder', 'inputs', 'clip');
  const pooledRows = repeatRows(pack.unconditional.clipTextPooled, N);
  const decGuided = settings.decoder.cfg !== null;
  const guidedB: Record<string, ort.Tensor> = {};
  const plainB: Record<string, ort.Tensor> = {};
  if (decGuided) {
    const ez = await graphs.run(`padZeros|${N}x${effRow.join('x')}`, decOnGpu, () => padZerosGraph([N, ...effRow]), { x: effnet }, io);
    guidedB.effnet = io.hold(ez.xz);
    guidedB.clip = await up(concat(pooledRows, pooledRows), [2 * N, ...clipRow], decOnGpu, 'latentDecoder/clip');
  } else {
    plainB.effnet = effnet;
    plainB.clip = await up(pooledRows, [N, ...clipRow], decOnGpu, 'latentDecoder/clip');
  }
  const latentB = await timed('decoder', async () => {
    progress('decoder', 0, settings.decoder.steps);
    const x = await sampleOnGraphs(new TensorStageDenoiser(sessions, 'latentDecoder', guidedB, plainB, io), {
      ...schedule(settings, 'decoder', N, settings.decoder.steps, false, opts.signal),
      rowDims: bRow,
      onStep: (s, t) => progress('decoder', s, t),
      onGpu: decOnGpu,
      graphs,
      io,
    });
    return io.hold(x);
  });

  // 7. Pixels (stage A): the candidates in as few runs as memory allows (rowsPerRun), the latents
  // split on the device only when there is more than one run; each run's images come down.
  const aRow = rowDims(sessions, 'pixelDecoder', 'inputs', 'latents');
  const candidates = await timed('pixels', async () => {
    const pixOnGpu = sessions.onGpu('pixelDecoder');
    const per = rowsPerRun(sessions, 'pixelDecoder', N);
    const chunks: Record<string, ort.Tensor> =
      per >= N ? { row_0: latentB } : await graphs.run(`split|${N}x${bRow.join('x')}|${per}`, pixOnGpu, () => splitRowsGraph(bRow, N, per), { x: latentB }, io);
    const out: RgbImage[] = [];
    try {
      for (let k = 0, k0 = 0; k0 < N; k++, k0 += per) {
        check();
        progress('pixels', k0, N);
        const chunk = chunks[`row_${k}`];
        const rows = Math.min(per, N - k0);
        const lat = chunk.dims.length === aRow.length + 1 ? chunk : chunk.reshape([rows, ...aRow]);
        const res = await sessions.runTensors('pixelDecoder', { latents: lat }, ['images'] as const, io);
        io.release(chunk); // (latentB itself is held until the run ends)
        delete chunks[`row_${k}`];
        const [, , h, w] = res.images.dims;
        const data = await io.toCpu(res.images, 'pixelDecoder/images');
        for (let j = 0; j < rows; j++) out.push(chwToRgb(data, j * 3 * h * w, w, h));
      }
    } finally {
      for (const t of Object.values(chunks)) io.release(t);
    }
    progress('pixels', N, N);
    return out;
  });

  // 8. Retrieval pooling: tokens normalised and scored on the device; one float per candidate.
  const tokenShape = m.headShapes.retrieval;
  const dim = tokenShape[tokenShape.length - 1];
  const tokens = decoded.retrieval.length / dim;
  const encOnGpu = sessions.onGpu('imageEncoder');
  const scores = await timed('retrieval', async () => {
    const target = await up(normalizeTokens(Float32Array.from(decoded.retrieval), dim), [1, tokens, dim], encOnGpu, 'retrieval/target');
    const s: number[] = [];
    const per = rowsPerRun(sessions, 'imageEncoder', N);
    for (let k0 = 0; k0 < N; k0 += per) {
      check();
      progress('retrieval', k0, N);
      const rows = Math.min(per, N - k0);
      const px = sessions.tensor('imageEncoder', 'pixel_values', { data: clipInputs(sessions, candidates.slice(k0, k0 + rows)), bind: { batch: rows } });
      const res = await sessions.runTensors('imageEncoder', { pixel_values: px }, ['last_hidden_state'] as const, io);
      const h = res.last_hidden_state;
      const hs = h.dims.length === 3 ? h : h.reshape([rows, tokens, dim]);
      const out = await graphs.run(`score|${rows}x${tokens}x${dim}`, sessions.onGpu('imageEncoder'), () => cosineScoreGraph(tokens, dim, rows), { h: hs, target }, io);
      io.release(h);
      s.push(...(await io.toCpu(out.score, 'retrieval/score')));
    }
    progress('retrieval', N, N);
    return s;
  });

  // 9. Caption: prompt features uploaded once; only the last position's logits come down.
  const { caption, captionTokens } = await timed('caption', () =>
    decodeCaption(sessions, decoded.prompt, settings.captionMaxTokens, opts.signal, (s, t) => progress('caption', s, t), io, sessions.onGpu('captionDecoder')),
  );

  return { lowLevel, enhanced, candidates, scores, best: bestIndex(scores), caption, captionTokens, settings, timings, sampler: 'graphs', providers: providers(sessions), transfers: io.stats };
}

/**
 * Greedy decoding: ids = [bos]; repeat argmax(logits[last]) until eos or maxTokens. `onGraphs`:
 * the prompt features go up once and stay on the device, and a step graph slices the last
 * position so that only [1, 1, V] logits come down per token (argmax in TypeScript as before).
 */
export async function decodeCaption(
  sessions: PackSessions,
  prompt: Float32Array,
  maxTokens: number,
  signal?: AbortSignal,
  onStep?: (step: number, total: number) => void,
  io: Transfers = new Transfers(),
  onGraphs = false,
): Promise<{ caption: string; captionTokens: number[] }> {
  const st = sessions.pack.manifest.stages.captionDecoder;
  const bos = num(st.settings, 'bosTokenId', 101);
  const eos = num(st.settings, 'eosTokenId', 102);
  const ids = [bos];
  const onGpu = sessions.onGpu('captionDecoder');
  let promptT: ort.Tensor | null = null;
  if (onGraphs) {
    const pt = sessions.tensor('captionDecoder', 'prompt_features', { data: prompt, bind: { batch: 1 } });
    promptT = await sessions.steps.upload(prompt, [...pt.dims], onGpu, io, 'captionDecoder/prompt_features');
  }
  try {
    for (let s = 0; s < maxTokens; s++) {
      if (signal?.aborted) throw new AbortError();
      onStep?.(s, maxTokens);
      const inputIds = { data: BigInt64Array.from(ids.map((x) => BigInt(x))), bind: { batch: 1, seq: ids.length } };
      let row: Float32Array;
      let off: number;
      let v: number;
      if (promptT) {
        const res = await sessions.runTensors('captionDecoder', { prompt_features: promptT, input_ids: sessions.tensor('captionDecoder', 'input_ids', inputIds) }, ['logits'] as const, io);
        v = res.logits.dims[2];
        const last = await sessions.steps.run(`lastPosition|${v}`, sessions.onGpu('captionDecoder'), () => lastPositionGraph(v), { logits: res.logits }, io);
        io.release(res.logits);
        row = await io.toCpu(last.last, 'captionDecoder/last_logits');
        off = 0;
      } else {
        const res = await sessions.run('captionDecoder', { prompt_features: { data: prompt, bind: { batch: 1 } }, input_ids: inputIds }, ['logits'] as const, io);
        v = res.logits.dims[2];
        row = res.logits.data;
        off = (ids.length - 1) * v;
      }
      let arg = 0;
      for (let i = 1; i < v; i++) if (row[off + i] > row[off + arg]) arg = i;
      if (arg === eos) break;
      ids.push(arg);
    }
  } finally {
    io.release(promptT);
  }
  onStep?.(maxTokens, maxTokens);
  const captionTokens = ids.slice(1);
  return { caption: detokenize(captionTokens, sessions.pack.vocab), captionTokens };
}
