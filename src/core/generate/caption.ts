// The caption: greedy decoding of the decoded prompt features with the pack's caption decoder
// (GiT's text decoder in MIRAGE), then WordPiece detokenisation with the pack's vocabulary.
// Two ways to step, chosen by what the stage declares:
// - plain (the contract every pack has: prompt_features, input_ids -> logits): each token re-runs
//   the decoder on the whole prefix, and the last position's logits pick the next token;
// - with a key/value cache (a stage whose settings.kvCache names a `past` input role and a
//   `present` output role, e.g. `mirage pack git`): the first call feeds the image features and
//   [CLS] with an empty cache, each later call feeds only the new token, no image rows, and the
//   cache the previous call returned, so each token costs one step and the image part is computed once.
import { AbortError, BundleError } from '../base/errors.ts';
import { ort } from '../onnx/runtime.ts';
import { lastPositionGraph } from './gpuSteps.ts';
import { Transfers } from './transfers.ts';
import { settingNumber } from './preprocess.ts';
import type { PackSessions } from './sessions.ts';
import type { TensorSpec } from './modelPack.ts';

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

/** A caption decoder stage wherever it runs: the pipeline's sessions, or one stage of a stage pack. */
export interface CaptionDecoderRunner {
  /** The stage's declaration (roles, ONNX names, shapes, settings). */
  spec: { file: string; inputs: Record<string, TensorSpec>; outputs: Record<string, TensorSpec>; settings: Record<string, unknown> };
  /** Runs the stage on runtime tensors keyed by role; the asked outputs keyed by role. */
  run(feeds: Record<string, ort.Tensor>, outputs: readonly string[]): Promise<Record<string, ort.Tensor>>;
  /** A tensor's values on the CPU (downloading one a WebGPU session left on the device). */
  values(t: ort.Tensor, label: string): Promise<Float32Array>;
  release(t: ort.Tensor | null | undefined): void;
}

/** The cache's input and output roles when the stage declares one (settings.kvCache + both roles), else null. */
export function captionCache(spec: CaptionDecoderRunner['spec']): { past: string; present: string } | null {
  const kv = spec.settings.kvCache as { past?: unknown; present?: unknown } | undefined;
  if (!kv || typeof kv !== 'object') return null;
  const { past, present } = kv;
  if (typeof past !== 'string' || typeof present !== 'string' || !spec.inputs[past] || !spec.outputs[present]) {
    throw new BundleError(spec.file, 'settings.kvCache names roles the stage does not declare', {
      field: 'settings.kvCache',
      expected: '{ "past": <an input role>, "present": <an output role> }',
    });
  }
  return { past, present };
}

/** The pipeline's sessions as a caption decoder runner (transfers counted in `io`). */
export function sessionsCaptionRunner(sessions: PackSessions, io: Transfers): CaptionDecoderRunner {
  return {
    spec: sessions.pack.manifest.stages.captionDecoder,
    run: (feeds, outputs) => sessions.runTensors('captionDecoder', feeds, outputs, io),
    values: async (t, label) => {
      const d = await io.download(t, label);
      return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
    },
    release: (t) => io.release(t),
  };
}

const fixedDim = (spec: TensorSpec, axis: number, what: string): number => {
  const d = spec.shape[axis];
  if (typeof d !== 'number') throw new BundleError(what, `dim ${axis} of "${spec.name}" is symbolic ("${d}")`, { expected: 'a fixed size' });
  return d;
};

function argmax(row: Float32Array, off: number, v: number): number {
  let arg = 0;
  for (let i = 1; i < v; i++) if (row[off + i] > row[off + arg]) arg = i;
  return arg;
}

/**
 * Greedy decoding of one row of prompt features: ids = [bos]; repeat argmax(next-token logits)
 * until eos or maxTokens; returns the tokens after bos (eos excluded). Uses the cache when the
 * stage declares one, else re-runs the whole prefix each token.
 */
export async function greedyCaption(
  dec: CaptionDecoderRunner,
  prompt: Float32Array,
  maxTokens: number,
  opts: { signal?: AbortSignal; onStep?: (step: number, total: number) => void } = {},
): Promise<number[]> {
  const { spec } = dec;
  const bos = settingNumber(spec.settings, 'bosTokenId', 101);
  const eos = settingNumber(spec.settings, 'eosTokenId', 102);
  const pf = spec.inputs.prompt_features;
  const width = fixedDim(pf, pf.shape.length - 1, spec.file);
  const promptDims = [1, ...(pf.shape.length === 3 ? [prompt.length / width] : []), width];
  const cache = captionCache(spec);
  const ids = [bos];
  const ids64 = (xs: number[]) => new ort.Tensor('int64', BigInt64Array.from(xs.map((x) => BigInt(x))), [1, xs.length]);
  let past: ort.Tensor | null = null;
  if (cache) {
    const ps = spec.inputs[cache.past];
    // [2·layers, batch, heads, positions, head dim], empty before the first call.
    past = new ort.Tensor('float32', new Float32Array(0), [fixedDim(ps, 0, spec.file), 1, fixedDim(ps, 2, spec.file), 0, fixedDim(ps, 4, spec.file)]);
  }
  const noImage = new ort.Tensor('float32', new Float32Array(0), [1, 0, width]);
  try {
    for (let s = 0; s < maxTokens; s++) {
      if (opts.signal?.aborted) throw new AbortError();
      opts.onStep?.(s, maxTokens);
      let row: Float32Array;
      let off: number;
      let v: number;
      if (cache && past) {
        const feeds = { prompt_features: s === 0 ? new ort.Tensor('float32', prompt, promptDims) : noImage, input_ids: ids64([ids[ids.length - 1]]), [cache.past]: past };
        const res = await dec.run(feeds, ['logits', cache.present]);
        dec.release(past);
        past = res[cache.present];
        v = res.logits.dims[2];
        row = await dec.values(res.logits, 'captionDecoder/logits');
        off = 0;
      } else {
        const res = await dec.run({ prompt_features: new ort.Tensor('float32', prompt, promptDims), input_ids: ids64(ids) }, ['logits']);
        v = res.logits.dims[2];
        row = await dec.values(res.logits, 'captionDecoder/logits');
        off = (ids.length - 1) * v;
      }
      const arg = argmax(row, off, v);
      if (arg === eos) break;
      ids.push(arg);
    }
  } finally {
    dec.release(past);
  }
  opts.onStep?.(maxTokens, maxTokens);
  return ids.slice(1);
}

/**
 * The pipeline's caption. `onGraphs` (a stage without a cache, on WebGPU): the prompt features go
 * up once and stay on the device, and a step graph slices the last position so that only
 * [1, 1, V] logits come down per token (argmax in TypeScript as before). Otherwise greedyCaption.
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
  const dec = sessionsCaptionRunner(sessions, io);
  const captionTokens =
    onGraphs && !captionCache(dec.spec)
      ? await greedyOnDevice(sessions, prompt, maxTokens, signal, onStep, io)
      : await greedyCaption(dec, prompt, maxTokens, { signal, onStep });
  return { caption: detokenize(captionTokens, sessions.pack.vocab), captionTokens };
}

async function greedyOnDevice(
  sessions: PackSessions,
  prompt: Float32Array,
  maxTokens: number,
  signal: AbortSignal | undefined,
  onStep: ((step: number, total: number) => void) | undefined,
  io: Transfers,
): Promise<number[]> {
  const st = sessions.pack.manifest.stages.captionDecoder;
  const bos = settingNumber(st.settings, 'bosTokenId', 101);
  const eos = settingNumber(st.settings, 'eosTokenId', 102);
  const ids = [bos];
  const onGpu = sessions.onGpu('captionDecoder');
  const pt = sessions.tensor('captionDecoder', 'prompt_features', { data: prompt, bind: { batch: 1 } });
  const promptT = await sessions.steps.upload(prompt, [...pt.dims], onGpu, io, 'captionDecoder/prompt_features');
  try {
    for (let s = 0; s < maxTokens; s++) {
      if (signal?.aborted) throw new AbortError();
      onStep?.(s, maxTokens);
      const inputIds = { data: BigInt64Array.from(ids.map((x) => BigInt(x))), bind: { batch: 1, seq: ids.length } };
      const res = await sessions.runTensors('captionDecoder', { prompt_features: promptT, input_ids: sessions.tensor('captionDecoder', 'input_ids', inputIds) }, ['logits'] as const, io);
      const v = res.logits.dims[2];
      const last = await sessions.steps.run(`lastPosition|${v}`, sessions.onGpu('captionDecoder'), () => lastPositionGraph(v), { logits: res.logits }, io);
      io.release(res.logits);
      const row = await io.toCpu(last.last, 'captionDecoder/last_logits');
      const arg = argmax(row, 0, v);
      if (arg === eos) break;
      ids.push(arg);
    }
  } finally {
    io.release(promptT);
  }
  onStep?.(maxTokens, maxTokens);
  return ids.slice(1);
}
