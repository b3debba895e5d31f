// `mirage pack git`: a GiT checkpoint (microsoft/git-large-coco) -> one stage pack with two stages:
// `imageEncoder` (GiT's CLIP ViT-L/14 tower: pixel_values -> the 257x1024 features MIRAGE's prompt
// head predicts) and `captionDecoder` (those features + token ids -> logits, with a key/value
// cache), plus the tokenizer's vocabulary as `vocab.json` (index = token id). Weights go to ONNX
// external-data files of at most 128 MiB, as for CLIP (clipPack.ts).
import { BundleError } from '../../base/errors.ts';
import type { ShardSink } from '../../bundle/writer.ts';
import { readAll } from '../../formats/byteSource.ts';
import type { StageSpec } from '../modelPack.ts';
import { CLIP_MEAN, CLIP_STD } from '../preprocess.ts';
import type { Checkpoint, CheckpointFolder } from './checkpoint.ts';
import { WEBGPU_DEFAULT_LIMITS } from './clipPack.ts';
import { buildGitDecoderGraph, buildGitImageGraph, checkGitCheckpoint, GIT_CACHE, GIT_LARGE_COCO, gitImageTokens, gitParamCount, type GitConfig } from './git.ts';
import type { GraphPrecision, GraphProgress } from './graphWeights.ts';
import { addPrecisionGraphs, StagePackWriter, type PackedStage, type StagePackManifest } from './stagePack.ts';

export const GIT_VOCAB_FILE = 'vocab.json';

/**
 * The tokenizer's vocabulary, index = token id: `vocab.txt` (BERT WordPiece, one token per line, as
 * microsoft/git-large-coco ships it) or else `tokenizer.json` (`model.vocab`, token -> id). Its size
 * must equal the decoder's vocabulary.
 */
export async function readGitVocab(folder: CheckpointFolder, cfg: GitConfig): Promise<string[]> {
  let vocab: string[] | undefined;
  let file = `${folder.label}/vocab.txt`;
  const txt = await folder.open('vocab.txt');
  if (txt) {
    vocab = new TextDecoder().decode(await readAll(txt)).split(/\r?\n/);
    if (vocab[vocab.length - 1] === '') vocab.pop();
  } else {
    file = `${folder.label}/tokenizer.json`;
    const tj = await folder.open('tokenizer.json');
    if (!tj) throw new BundleError(folder.label, 'no vocabulary', { field: 'vocab.txt', expected: "the tokenizer's vocab.txt or tokenizer.json next to the weights" });
    let map: unknown;
    try {
      map = (JSON.parse(new TextDecoder().decode(await readAll(tj))) as { model?: { vocab?: unknown } }).model?.vocab;
    } catch (e) {
      throw new BundleError(file, 'not valid JSON', { cause: e, expected: 'a tokenizers JSON file' });
    }
    if (!map || typeof map !== 'object' || Array.isArray(map)) throw new BundleError(file, 'no token -> id map', { field: 'model.vocab', expected: 'a WordPiece vocabulary object' });
    vocab = [];
    for (const [t, id] of Object.entries(map as Record<string, unknown>)) {
      if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= cfg.vocab) throw new BundleError(file, `token ${JSON.stringify(t)} has id ${String(id)}`, { field: 'model.vocab', expected: `ids in [0, ${cfg.vocab})` });
      vocab[id as number] = t;
    }
    vocab = Array.from(vocab, (t) => t ?? '');
  }
  if (vocab.length !== cfg.vocab) throw new BundleError(file, `${vocab.length} tokens`, { expected: `${cfg.vocab} (${cfg.name}'s vocab_size)` });
  if (vocab[cfg.bosTokenId] !== '[CLS]' || vocab[cfg.eosTokenId] !== '[SEP]') {
    throw new BundleError(file, `token ${cfg.bosTokenId} is ${JSON.stringify(vocab[cfg.bosTokenId])} and ${cfg.eosTokenId} is ${JSON.stringify(vocab[cfg.eosTokenId])}`, { expected: `[CLS] at ${cfg.bosTokenId} and [SEP] at ${cfg.eosTokenId} (BERT uncased)` });
  }
  return vocab;
}

export interface GitPackOptions {
  config?: GitConfig;
  maxFileBytes?: number;
  /** float32 (default), float16, or both in one pack (float32 as each stage's file, float16 as its `float16` variant). */
  precision?: GraphPrecision | 'both';
  command?: string;
  createdAt?: string;
  onProgress?: GraphProgress;
}

export async function packGit(ck: Checkpoint, vocab: string[], sink: ShardSink, opts: GitPackOptions = {}): Promise<StagePackManifest> {
  const cfg = opts.config ?? GIT_LARGE_COCO;
  const maxFileBytes = opts.maxFileBytes ?? WEBGPU_DEFAULT_LIMITS.maxStorageBufferBindingSize;
  checkGitCheckpoint(ck, cfg);
  const w = new StagePackWriter(sink);
  const params = gitParamCount(cfg);
  const tokens = gitImageTokens(cfg);
  const { width } = cfg.vision;
  const precision = opts.precision ?? 'float32';
  const progress = (stage: string, p: GraphPrecision) => opts.onProgress && ((d: number, t: number, l: string) => opts.onProgress?.(d, t, `${stage} ${p} ${l}`));
  // One graph at a time (per stage and precision): its weights are written and dropped before the next is built.
  const image = await addPrecisionGraphs(w, (p) => buildGitImageGraph(ck, cfg, { precision: p, onProgress: progress('imageEncoder', p) }), 'git_image_encoder', precision, maxFileBytes);
  const decoder = await addPrecisionGraphs(w, (p) => buildGitDecoderGraph(ck, cfg, { precision: p, onProgress: progress('captionDecoder', p), check: false }), 'git_text_decoder', precision, maxFileBytes);
  const precisions = image.precisions;
  const vocabFile = await w.addFile(GIT_VOCAB_FILE, new TextEncoder().encode(JSON.stringify(vocab)));
  const cache = [2 * cfg.layers, 'batch', cfg.heads, 'past', cfg.hidden / cfg.heads];
  const imageEncoder: PackedStage & StageSpec = {
    ...image.files,
    role: `${cfg.name} image encoder (CLIP ${cfg.vision.name} tower of GitForCausalLM, post_layernorm on every token), built from ${ck.label}`,
    kind: 'real',
    inputs: { pixel_values: { name: 'pixel_values', dtype: 'float32', shape: ['batch', 3, cfg.vision.imageSize, cfg.vision.imageSize] } },
    outputs: { last_hidden_state: { name: 'last_hidden_state', dtype: 'float32', shape: ['batch', tokens, width] } },
    settings: { model: 'git', inputSize: cfg.vision.imageSize, mean: CLIP_MEAN, std: CLIP_STD, config: cfg.vision, parameters: params.imageEncoder, precision: precisions[0] },
  };
  const captionDecoder: PackedStage & StageSpec = {
    ...decoder.files,
    role: `${cfg.name} text decoder (visual projection, BERT embeddings, ${cfg.layers} layers, output), built from ${ck.label}`,
    kind: 'real',
    inputs: {
      prompt_features: { name: 'prompt_features', dtype: 'float32', shape: ['batch', 'image_tokens', width] },
      input_ids: { name: 'input_ids', dtype: 'int64', shape: ['batch', 'seq'] },
      [GIT_CACHE.past]: { name: GIT_CACHE.past, dtype: 'float32', shape: cache },
    },
    outputs: {
      logits: { name: 'logits', dtype: 'float32', shape: ['batch', 'seq', cfg.vocab] },
      [GIT_CACHE.present]: { name: GIT_CACHE.present, dtype: 'float32', shape: [2 * cfg.layers, 'batch', cfg.heads, 'total', cfg.hidden / cfg.heads] },
    },
    settings: {
      model: 'git',
      bosTokenId: cfg.bosTokenId,
      eosTokenId: cfg.eosTokenId,
      imageTokens: tokens,
      kvCache: { past: GIT_CACHE.past, present: GIT_CACHE.present, layout: '[2 x layers (key, value), batch, heads, positions, head dim]' },
      vocab: vocabFile,
      config: { ...cfg, vision: undefined },
      parameters: params.textDecoder,
      precision: precisions[0],
    },
  };
  return w.finish({
    name: `${cfg.name} (${ck.label})`,
    description: `imageEncoder + captionDecoder stages: ${params.total} parameters (${params.imageEncoder} image encoder, ${params.textDecoder} text decoder), ${precisions.join(' + ')}, weight files of at most ${maxFileBytes} bytes`,
    provenance: { kind: 'real', command: opts.command ?? 'packGit', createdAt: opts.createdAt ?? new Date().toISOString(), notes: `checkpoint files: ${ck.files.join(', ')}` },
    stages: { imageEncoder, captionDecoder },
  });
}
