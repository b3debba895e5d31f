// The caption: greedy decoding of the decoded prompt features with the pack's caption decoder
// (GiT's text decoder in MIRAGE), then WordPiece detokenisation with the pack's vocabulary.
import { AbortError } from '../base/errors.ts';
import { lastPositionGraph } from './gpuSteps.ts';
import { Transfers } from './transfers.ts';
import { settingNumber } from './preprocess.ts';
import type { PackSessions } from './sessions.ts';
import type { ort } from '../onnx/runtime.ts';

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
  const bos = settingNumber(st.settings, 'bosTokenId', 101);
  const eos = settingNumber(st.settings, 'eosTokenId', 102);
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
