// `mirage caption`: a pack's caption decoder (GiT's text decoder from `mirage pack git`, or any
// model pack's captionDecoder) on prompt features from a file, one greedy caption per row, with the
// pack's vocabulary. The decoding itself is the pipeline's (caption.ts greedyCaption: one step per
// token with the stage's key/value cache when it declares one).
import { BundleError } from '../../base/errors.ts';
import { readPackFile, readPackJson, type PackFile } from '../../bundle/pack.ts';
import type { ShardSource } from '../../bundle/source.ts';
import type { OrtSession } from '../../onnx/runtime.ts';
import type { NpyArray } from '../../tensor/npy.ts';
import { detokenize, greedyCaption, type CaptionDecoderRunner } from '../caption.ts';
import { PACK_MANIFEST } from '../modelPack.ts';
import { openStageSession } from './runStage.ts';
import type { LoadedStage } from './stagePack.ts';

/**
 * The caption vocabulary of the pack a caption decoder was loaded from: the stage's
 * `settings.vocab` (a stage pack from `mirage pack git`) or the model pack's `vocab`; a JSON array
 * of token strings, index = token id, checked against the manifest's size and sha256.
 */
export async function loadCaptionVocab(source: ShardSource, stage: LoadedStage): Promise<string[]> {
  const where = `${source.label}/${PACK_MANIFEST}`;
  const m = (await readPackJson(source, PACK_MANIFEST, 'a model pack or stage pack manifest')) as { files?: PackFile[]; vocab?: unknown };
  const path = typeof stage.spec.settings.vocab === 'string' ? stage.spec.settings.vocab : m.vocab;
  if (typeof path !== 'string') throw new BundleError(where, 'no caption vocabulary', { field: 'stages.captionDecoder.settings.vocab', expected: 'the path of a JSON array of tokens (index = token id)' });
  const file = `${source.label}/${path}`;
  let vocab: unknown;
  try {
    vocab = JSON.parse(new TextDecoder().decode(await readPackFile(source, m.files ?? [], path)));
  } catch (e) {
    if (e instanceof BundleError) throw e;
    throw new BundleError(file, 'not valid JSON', { cause: e, expected: 'a JSON array of token strings' });
  }
  if (!Array.isArray(vocab) || !vocab.every((t) => typeof t === 'string')) throw new BundleError(file, 'vocabulary is not an array of strings', { expected: 'a JSON array of token strings' });
  return vocab as string[];
}

/** One loaded stage and its session as the caption loop's runner (wasm: outputs are on the CPU). */
export function stageCaptionRunner(stage: LoadedStage, session: OrtSession): CaptionDecoderRunner {
  const { spec } = stage;
  return {
    spec,
    run: async (feeds, outputs) => {
      const named = Object.fromEntries(Object.entries(feeds).map(([role, t]) => [spec.inputs[role].name, t]));
      const res = await session.run(named, outputs.map((r) => spec.outputs[r].name));
      return Object.fromEntries(outputs.map((r) => [r, res[spec.outputs[r].name]]));
    },
    values: async (t) => t.data as Float32Array,
    release: () => {},
  };
}

export interface CaptionRow {
  tokens: number[];
  caption: string;
}

/**
 * Greedy captions of every row of `features` ([N, 257, 1024] for GiT, or whatever shape the stage's
 * prompt_features declares after the batch), at most `maxTokens` tokens each.
 */
export async function captionFeatures(
  stage: LoadedStage,
  vocab: string[],
  features: NpyArray,
  opts: { maxTokens?: number; file?: string; signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<CaptionRow[]> {
  const file = opts.file ?? 'features.npy';
  if (stage.stage !== 'captionDecoder') throw new BundleError(stage.packName, `stage ${stage.stage} is not a caption decoder`, { expected: 'captionDecoder' });
  const spec = stage.spec.inputs.prompt_features;
  const rowShape = spec.shape.slice(1).map((d) => (typeof d === 'number' ? d : stage.spec.settings.imageTokens));
  const want = `[N, ${rowShape.join(', ')}]`;
  if (features.shape.length !== spec.shape.length || features.shape.slice(1).some((d, i) => d !== rowShape[i])) {
    throw new BundleError(file, `shape [${features.shape.join(', ')}]`, { field: 'header.shape', expected: `${want} (the decoder's prompt_features)` });
  }
  if (features.dtype === '|b1' || features.dtype === '<i8') throw new BundleError(file, `dtype ${features.dtype}`, { field: 'header.descr', expected: 'float features (float32 or float64)' });
  const maxTokens = opts.maxTokens ?? 20;
  const n = features.shape[0];
  const per = features.data.length / Math.max(1, n);
  const session = await openStageSession(stage);
  try {
    const dec = stageCaptionRunner(stage, session);
    const rows: CaptionRow[] = [];
    for (let k = 0; k < n; k++) {
      const slice = features.data.subarray(k * per, (k + 1) * per);
      const prompt = slice instanceof Float32Array ? slice : Float32Array.from(slice as ArrayLike<number>);
      const tokens = await greedyCaption(dec, prompt, maxTokens, { signal: opts.signal });
      rows.push({ tokens, caption: detokenize(tokens, vocab) });
      opts.onProgress?.(k + 1, n);
    }
    return rows;
  } finally {
    await session.release();
  }
}
