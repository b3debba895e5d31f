// MIRAGE's reconstruction (docs/background.md §4) over a model pack, in the spirit of transformers.js's
// pipelines: model loading (modelPack.ts, sessions.ts) is apart; this file is the algorithm.
//   low-level latents -> lowLevelDecoder -> 64x64 -> enhance (PIL semantics) -> latentEncoder
//   -> noise to t = strength -> priorDenoiser steps (MIRAGE's guidance mix, CFG) -> latentDecoder
//   steps -> pixelDecoder -> candidates -> imageEncoder + cosine to the decoded retrieval embedding
//   -> best candidate; captionDecoder greedy-decodes the decoded prompt features.
// Progress is reported per stage and per step; the AbortSignal is checked between every step.
// The stage loop below is written once over a tensor home (tensorHome.ts), which says where the
// latents live and who does the sampler's arithmetic. Two homes, same numbers (to float32
// rounding; test/unit/generate/pipelineGraphs.test.ts):
// - CpuHome, sampler 'typescript' (the default on wasm): sampler.ts on CPU arrays; every stage
//   output comes back.
// - GraphHome, sampler 'graphs' (the default on WebGPU): the sampler's arithmetic as ONNX step
//   graphs (gpuSteps.ts), so the latents stay on the device from the latent encoder to the pixel
//   decoder. What crosses is counted in `Reconstruction.transfers` (docs/model-packs.md, "GPU residency").
// What feeds the encoders is preprocess.ts; the caption is caption.ts; batch sizing is batching.ts.
import { AbortError, BundleError } from '../base/errors.ts';
import { chwToRgb, type RgbImage } from '../base/image.ts';
import { batchNoise } from '../base/rng.ts';
import type { ort } from '../onnx/runtime.ts';
import { concatRows, elementCount, repeatRows, rowDims, rowsPerRun } from './batching.ts';
import { decodeCaption } from './caption.ts';
import { CpuHome } from './cpuHome.ts';
import { enhanceLowLevel, type EnhanceSettings } from './enhance.ts';
import { Transfers, type TransferStats } from './transfers.ts';
import { GraphHome } from './graphHome.ts';
import { decodeLowLevel } from './lowLevelImage.ts';
import { STAGE_IO, type LoadedModelPack, type StageName } from './modelPack.ts';
import { clipInputs, encoderInput, normalizeTokens } from './preprocess.ts';
import { img2imgSteps, type SamplerSchedule } from './sampler.ts';
import type { PackSessions } from './sessions.ts';
import { withDims, type SamplerKind, type TensorHome } from './tensorHome.ts';

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

/** MIRAGE's defaults (docs/background.md §4). cfgRho 0.7 is gdf.sample's default, which Stable Cascade's notebooks keep. */
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

export interface ReconstructOptions {
  signal?: AbortSignal;
  onProgress?: (p: GenerateProgress) => void;
  onLowLevel?: (low: RgbImage, enhanced: RgbImage) => void;
  /** Default: 'graphs' when a denoiser stage runs on WebGPU, 'typescript' otherwise. */
  sampler?: SamplerKind;
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
  const home: TensorHome = samplerKind === 'graphs' ? new GraphHome(sessions, io) : new CpuHome(sessions, io);
  try {
    return await runStages(home, sessions, decoded, settings, opts, io);
  } finally {
    io.releaseAll();
  }
}

/** Checks the settings and the decoded heads; returns the progress/timing helpers of a run. */
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
    clip_img: concatRows(cond.clip_img, uncond.clip_img),
    clip_text: concatRows(cond.clip_text, uncond.clip_text),
    clip_text_pooled: concatRows(cond.clip_text_pooled, uncond.clip_text_pooled),
  };
  return { cond, guided };
}

/**
 * A diffusion stage's schedule: its steps, guidance and shift, the seed, and the img2img start
 * (the prior from t = strength; the noise stream is named after the stage).
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

function checkLatent(file: string, got: number, want: number): void {
  if (got !== want) {
    throw new BundleError(file, `latent has ${got} values`, { field: 'stages.latentEncoder.outputs.latents', expected: `${want} (the prior's x)` });
  }
}

/**
 * The stages in order, over a tensor home. Under WebGPU with the graph home, what crosses to the
 * CPU: the low-level image (shown; enhanced with Pillow-exact TypeScript), each candidate's pixels
 * (shown; PIL-exact bicubic resize for the image encoder), one retrieval score per candidate, the
 * caption's last-position logits per token. What goes up: the enhanced image, the conditioning
 * (once), the seeded noise (each draw once), r and the step scalars, the CLIP inputs, token ids.
 */
async function runStages(home: TensorHome, sessions: PackSessions, decoded: DecodedHeads, settings: GenerateSettings, opts: ReconstructOptions, io: Transfers): Promise<Reconstruction> {
  const { pack, m, N, timings, check, progress, timed } = begin(sessions, decoded, settings, opts);
  const cRow = rowDims(sessions, 'priorDenoiser', 'inputs', 'x');
  const cLatent = elementCount(sessions, 'priorDenoiser', 'inputs', 'x');

  // 1-4. Low-level image, enhancement, latent, img2img noising (one noise draw per candidate).
  let lowLevel: RgbImage | null = null;
  let enhanced: RgbImage | null = null;
  let xInitPrior: ort.Tensor | undefined;
  if (settings.useLowLevel) {
    const low = await timed('lowLevel', async () => {
      progress('lowLevel', 0, 1);
      const img = await decodeLowLevel(sessions, decoded.blurry, settings.seed, io);
      progress('lowLevel', 1, 1);
      return img;
    });
    const enh = await timed('enhance', () => {
      progress('enhance', 0, 1);
      const e = enhanceLowLevel(low, settings.enhance);
      progress('enhance', 1, 1);
      return e;
    });
    lowLevel = low;
    enhanced = enh;
    opts.onLowLevel?.(low, enh);
    // the resize to the encoder's input size runs inside the timed stage, so it counts in latentEncode's time
    const latent = await timed('latentEncode', async () => {
      progress('latentEncode', 0, 1);
      const images = sessions.tensor('latentEncoder', 'images', { data: encoderInput(sessions, enh), bind: { batch: 1 } });
      const out = await home.run('latentEncoder', { images }, 'latents');
      progress('latentEncode', 1, 1);
      return io.hold(out);
    });
    checkLatent(m.stages.latentEncoder.file, latent.size, cLatent);
    // gdf.diffuse to t = strength, unshifted
    if (settings.strength < 1) {
      const noise = batchNoise(settings.seed, N, cLatent, 'prior/img2img');
      xInitPrior = io.hold(await home.diffuse(latent, cRow, N, settings.strength, noise, 'priorDenoiser'));
    }
  }

  // 5. Prior (stage C) with MIRAGE's guidance mix; the conditioning goes to the home once.
  const condC = priorConditioning(pack, decoded, settings, N);
  const priorGuided = settings.prior.cfg !== null;
  const priorCond: Record<string, ort.Tensor> = {};
  for (const role of ['clip_img', 'clip_text', 'clip_text_pooled'] as const) {
    const rows = priorGuided ? 2 * N : N;
    const dims = [rows, ...rowDims(sessions, 'priorDenoiser', 'inputs', role)];
    priorCond[role] = await home.upload(priorGuided ? condC.guided[role] : condC.cond[role], dims, 'priorDenoiser', `priorDenoiser/${role}`);
  }
  const img2img = xInitPrior !== undefined;
  const priorSteps = img2img ? img2imgSteps(settings.prior.steps, settings.strength) : settings.prior.steps;
  const latentC = await timed('prior', async () => {
    progress('prior', 0, priorSteps);
    if (priorSteps === 0) return xInitPrior as ort.Tensor;
    const sched = schedule(settings, 'prior', N, priorSteps, img2img, opts.signal);
    return io.hold(await home.sample({ stage: 'priorDenoiser', cond: priorCond, schedule: sched, rowDims: cRow, xInit: xInitPrior, onStep: (s, t) => progress('prior', s, t) }));
  });

  // 6. Decoder (stage B): effnet = stage C's output (still on the device on the graph home);
  // CFG's unconditional branch has zero effnet: [x; 0].
  const bRow = rowDims(sessions, 'latentDecoder', 'inputs', 'x');
  const effnet = withDims(latentC, [N, ...rowDims(sessions, 'latentDecoder', 'inputs', 'effnet')]);
  const clipDims = rowDims(sessions, 'latentDecoder', 'inputs', 'clip');
  const pooledRows = repeatRows(pack.unconditional.clipTextPooled, N);
  const decCond: Record<string, ort.Tensor> = {};
  if (settings.decoder.cfg !== null) {
    decCond.effnet = io.hold(await home.padZeros(effnet, 'latentDecoder'));
    decCond.clip = await home.upload(concatRows(pooledRows, pooledRows), [2 * N, ...clipDims], 'latentDecoder', 'latentDecoder/clip');
  } else {
    decCond.effnet = effnet;
    decCond.clip = await home.upload(pooledRows, [N, ...clipDims], 'latentDecoder', 'latentDecoder/clip');
  }
  const latentB = await timed('decoder', async () => {
    progress('decoder', 0, settings.decoder.steps);
    const sched = schedule(settings, 'decoder', N, settings.decoder.steps, false, opts.signal);
    return io.hold(await home.sample({ stage: 'latentDecoder', cond: decCond, schedule: sched, rowDims: bRow, onStep: (s, t) => progress('decoder', s, t) }));
  });

  // 7. Pixels (stage A): the candidates in as few runs as memory allows (rowsPerRun); each run's
  // images come to the CPU.
  const aRow = rowDims(sessions, 'pixelDecoder', 'inputs', 'latents');
  const candidates = await timed('pixels', async () => {
    const per = rowsPerRun(sessions, 'pixelDecoder', N);
    const chunks: (ort.Tensor | null)[] = await home.splitRows(latentB, bRow, N, per, 'pixelDecoder');
    const out: RgbImage[] = [];
    try {
      for (let k = 0, k0 = 0; k0 < N; k++, k0 += per) {
        check();
        progress('pixels', k0, N);
        const chunk = chunks[k] as ort.Tensor;
        const rows = Math.min(per, N - k0);
        const images = await home.run('pixelDecoder', { latents: withDims(chunk, [rows, ...aRow]) }, 'images');
        io.release(chunk); // (latentB itself is held until the run ends)
        chunks[k] = null;
        const [, , h, w] = images.dims;
        const data = await io.toCpu(images, 'pixelDecoder/images');
        for (let j = 0; j < rows; j++) out.push(chwToRgb(data, j * 3 * h * w, w, h));
      }
    } finally {
      for (const t of chunks) io.release(t);
    }
    progress('pixels', N, N);
    return out;
  });

  // 8. Retrieval pooling: the candidates encoded in as few runs as memory allows, each scored
  // against the normalised decoded tokens (on the device on the graph home: one float per candidate).
  const tokenShape = m.headShapes.retrieval;
  const dim = tokenShape[tokenShape.length - 1];
  const tokens = decoded.retrieval.length / dim;
  const scores = await timed('retrieval', async () => {
    const target = await home.upload(normalizeTokens(Float32Array.from(decoded.retrieval), dim), [1, tokens, dim], 'imageEncoder', 'retrieval/target');
    const s: number[] = [];
    const per = rowsPerRun(sessions, 'imageEncoder', N);
    for (let k0 = 0; k0 < N; k0 += per) {
      check();
      progress('retrieval', k0, N);
      const rows = Math.min(per, N - k0);
      const px = sessions.tensor('imageEncoder', 'pixel_values', { data: clipInputs(sessions, candidates.slice(k0, k0 + rows)), bind: { batch: rows } });
      const hidden = await home.run('imageEncoder', { pixel_values: px }, 'last_hidden_state');
      s.push(...(await home.scores(hidden, target, rows, tokens, dim, 'imageEncoder')));
    }
    progress('retrieval', N, N);
    return s;
  });

  // 9. Caption: greedy decoding of the decoded prompt features (graph home with the decoder on
  // WebGPU: the prompt goes up once, only the last position's logits come down; elsewhere a
  // slicing graph per token would cost more than reading the logits).
  const captionOnGraphs = home.kind === 'graphs' && sessions.onGpu('captionDecoder');
  const { caption, captionTokens } = await timed('caption', () =>
    decodeCaption(sessions, decoded.prompt, settings.captionMaxTokens, opts.signal, (s, t) => progress('caption', s, t), io, captionOnGraphs),
  );

  return { lowLevel, enhanced, candidates, scores, best: bestIndex(scores), caption, captionTokens, settings, timings, sampler: home.kind, providers: providers(sessions), transfers: io.stats };
}
