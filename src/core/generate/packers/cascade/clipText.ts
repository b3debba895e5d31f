// Stable Cascade's unconditional text conditioning, computed from a CLIP text encoder checkpoint
// (the Hugging Face CLIPTextModelWithProjection in stabilityai/stable-cascade's `text_encoder/`:
// OpenCLIP ViT-bigG/14's text tower, Cherti et al., 2023; the CLIP architecture of Radford et al.,
// 2021). Stable Cascade (Pernias et al., 2024) conditions its prior on the empty caption when
// unconditional: the tokenizer's start and end tokens padded to 77 positions with an attention
// mask over the padding, `clip_text` = the encoder's last hidden state *before* final_layer_norm
// (transformers' hidden_states[-1]), `clip_text_pooled` = text_embeds: final_layer_norm of the end
// token's state, then text_projection (no bias). docs/model-packs.md ("Stable Cascade") has the details.
//
// The tower is clip.ts's pre-LN block with a causal + padding mask and exact GELU. It runs once, at
// pack time, in onnxruntime: the 32 layers in graphs of a few layers each (a whole bigG tower is
// 2.8 GB of float32, past protobuf's 2 GB and heavy for one wasm session); the token rows are
// gathered here, so the 253 MB embedding table never enters a graph.
import { BundleError } from '../../../base/errors.ts';
import { GraphBuilder } from '../../../onnx/builder.ts';
import { createSession, floatTensor } from '../../../onnx/runtime.ts';
import type { Checkpoint } from '../checkpoint.ts';
import { addClipLayerShapes, clipBlocks, type ClipActivation, type ClipTowerSizes } from '../clip.ts';
import { graphWeights } from '../graphWeights.ts';

export interface ClipTextConfig extends ClipTowerSizes {
  vocab: number;
  /** max_position_embeddings: the padded caption length. */
  positions: number;
  act: ClipActivation;
  /** The tokenizer's start, end and padding ids (the empty caption is [bos, eos, pad, ...]). */
  bos: number;
  eos: number;
  pad: number;
}

/**
 * OpenCLIP ViT-bigG/14's text tower as transformers stores it (laion/CLIP-ViT-bigG-14-laion2B-39B-b160k,
 * stabilityai/stable-cascade text_encoder/): 49408 tokens, 77 positions, width 1280, 32 layers, 20
 * heads, MLP 5120, gelu, projection 1280. Its tokenizer pads with the end token <|endoftext|>.
 */
export const CLIP_TEXT_BIGG: ClipTextConfig = {
  name: 'ViT-bigG/14 text',
  vocab: 49408,
  positions: 77,
  width: 1280,
  layers: 32,
  heads: 20,
  mlp: 5120,
  projectionDim: 1280,
  layerNormEps: 1e-5,
  act: 'gelu',
  bos: 49406,
  eos: 49407,
  pad: 49407,
};
/** openai/clip-vit-large-patch14's text tower: known so that giving it for bigG is named as such. */
export const CLIP_TEXT_L14: ClipTextConfig = { ...CLIP_TEXT_BIGG, name: 'ViT-L/14 text', width: 768, layers: 12, heads: 12, mlp: 3072, projectionDim: 768, act: 'quick_gelu' };
/** OpenCLIP ViT-H/14's text tower (Stable Diffusion 2). */
export const CLIP_TEXT_H14: ClipTextConfig = { ...CLIP_TEXT_BIGG, name: 'ViT-H/14 text', width: 1024, layers: 24, heads: 16, mlp: 4096, projectionDim: 1024 };
const KNOWN = [CLIP_TEXT_BIGG, CLIP_TEXT_L14, CLIP_TEXT_H14];

const P = 'text_model.';
const layerKey = (i: number) => `${P}encoder.layers.${i}.`;
const TOKEN_EMBEDDING = `${P}embeddings.token_embedding.weight`;
const POSITION_EMBEDDING = `${P}embeddings.position_embedding.weight`;
const PROJECTION = 'text_projection.weight';

/** Every tensor the text tower and its projection read, with its shape, under the official HF key names. */
export function clipTextShapes(cfg: ClipTextConfig): Map<string, number[]> {
  const { width: w, mlp } = cfg;
  const m = new Map<string, number[]>([
    [TOKEN_EMBEDDING, [cfg.vocab, w]],
    [POSITION_EMBEDDING, [cfg.positions, w]],
  ]);
  for (let i = 0; i < cfg.layers; i++) addClipLayerShapes(m, layerKey(i), w, mlp);
  m.set(`${P}final_layer_norm.weight`, [w]);
  m.set(`${P}final_layer_norm.bias`, [w]);
  m.set(PROJECTION, [cfg.projectionDim, w]);
  return m;
}

/** Parameter counts from the config alone: the text tower, the projection, and both. */
export function clipTextParamCount(cfg: ClipTextConfig): { text: number; projection: number; total: number } {
  let total = 0;
  for (const s of clipTextShapes(cfg).values()) total += s.reduce((a, b) => a * b, 1);
  const projection = cfg.projectionDim * cfg.width;
  return { text: total - projection, projection, total };
}

const fmt = (c: Partial<ClipTextConfig>) => `width ${c.width}, ${c.layers} layers, ${c.positions} positions, projection ${c.projectionDim}`;

/**
 * What the checkpoint's shapes say the text tower is, against the expected config: another CLIP
 * (ViT-L/14's 768-wide text encoder for bigG) is named as such, with the file and tensor; a file
 * without a text tower, a missing or misshapen tensor, or a config.json with other heads or
 * activation are errors naming the file.
 */
export function checkClipTextCheckpoint(ck: Checkpoint, cfg: ClipTextConfig): void {
  const where = ck.files.join(', ') || ck.label;
  const tok = ck.tensors.get(TOKEN_EMBEDDING);
  if (!tok) {
    const vision = [...ck.tensors.keys()].some((k) => k.startsWith('vision_model.'));
    throw new BundleError(where, `no CLIP text tower${vision ? ' (this is a CLIP vision model; give the text_encoder/ folder)' : ''}`, {
      field: `tensor ${TOKEN_EMBEDDING}`,
      expected: `a Hugging Face CLIPTextModelWithProjection (${cfg.name})`,
    });
  }
  let layers = 0;
  while (ck.tensors.get(`${layerKey(layers)}self_attn.q_proj.weight`)) layers++;
  const found: Partial<ClipTextConfig> = {
    width: tok.shape[1],
    layers,
    positions: ck.tensors.get(POSITION_EMBEDDING)?.shape[0],
    projectionDim: ck.tensors.get(PROJECTION)?.shape[0],
  };
  const same = (a: Partial<ClipTextConfig>, b: ClipTextConfig) => a.width === b.width && a.layers === b.layers && a.positions === b.positions && a.projectionDim === b.projectionDim;
  if (!same(found, cfg)) {
    const known = KNOWN.find((k) => same(found, k));
    throw new BundleError(tok.file, `the checkpoint is ${known ? `CLIP ${known.name}` : 'another text model'} (${fmt(found)})`, {
      field: `tensor ${TOKEN_EMBEDDING}`,
      expected: `CLIP ${cfg.name} (${fmt(cfg)})`,
    });
  }
  // A text encoder folder's config.json is a CLIPTextConfig; a whole CLIPModel's nests it.
  const json = ck.config as { text_config?: Record<string, unknown> } & Record<string, unknown> | undefined;
  const hf = json?.text_config ?? json;
  if (hf) {
    if (hf.num_attention_heads !== undefined && hf.num_attention_heads !== cfg.heads) {
      throw new BundleError(`${ck.label}/config.json`, `num_attention_heads ${String(hf.num_attention_heads)}`, { field: 'num_attention_heads', expected: `${cfg.heads} (${cfg.name})` });
    }
    if (hf.hidden_act !== undefined && hf.hidden_act !== cfg.act) {
      throw new BundleError(`${ck.label}/config.json`, `hidden_act ${String(hf.hidden_act)}`, { field: 'hidden_act', expected: `${cfg.act} (${cfg.name})` });
    }
  }
  for (const [k, shape] of clipTextShapes(cfg)) {
    const t = ck.tensors.get(k);
    if (!t) throw new BundleError(where, 'missing tensor', { field: `tensor ${k}`, expected: `shape [${shape.join(', ')}] (${cfg.name})` });
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new BundleError(t.file, `shape [${t.shape.join(', ')}]`, { field: `tensor ${k}`, expected: `[${shape.join(', ')}] (${cfg.name})` });
    }
  }
}

/** The empty caption as the tokenizer gives it padded to max_length: ids, attention mask, the end token's index. */
export function emptyCaptionTokens(cfg: ClipTextConfig): { ids: number[]; mask: number[]; eosIndex: number } {
  const ids = Array.from({ length: cfg.positions }, (_, i) => (i === 0 ? cfg.bos : i === 1 ? cfg.eos : cfg.pad));
  return { ids, mask: ids.map((_, i) => (i < 2 ? 1 : 0)), eosIndex: 1 };
}

/**
 * The additive attention mask [1, 1, T, T]: a query sees keys at or before it (causal) that are not
 * padding — transformers adds the causal and the expanded attention_mask the same way.
 */
export function textAttentionMask(mask: number[]): Float32Array {
  const T = mask.length;
  const out = new Float32Array(T * T);
  // Large and finite: exp underflows to exactly 0, and no row is all-masked (key 0 is never padding).
  for (let q = 0; q < T; q++) for (let k = 0; k < T; k++) if (k > q || !mask[k]) out[q * T + k] = -1e9;
  return out;
}

/** Layers per graph (about 315 MB of float32 weights per graph at bigG's width). */
export const DEFAULT_LAYERS_PER_GRAPH = 4;

/** Graph for layers [from, to): hidden [1, T, W] -> hidden_out; the last one also gives text_embeds of the end token. */
async function layersGraph(ck: Checkpoint, cfg: ClipTextConfig, from: number, to: number, eosIndex: number): Promise<GraphBuilder> {
  const g = new GraphBuilder(`clip_text_layers_${from}_${to}`);
  const wts = graphWeights(g, ck, clipTextShapes(cfg));
  const T = cfg.positions;
  g.input('hidden', 'float32', [1, T, cfg.width]);
  g.input('mask', 'float32', [1, 1, T, T]);
  const block = clipBlocks(g, wts, { width: cfg.width, heads: cfg.heads, layerNormEps: cfg.layerNormEps, act: cfg.act }, 'mask');
  let x = 'hidden';
  for (let i = from; i < to; i++) x = await block(x, layerKey(i));
  g.op('Identity', [x], undefined, 'hidden_out');
  g.output('hidden_out', 'float32', [1, T, cfg.width]);
  if (to === cfg.layers) {
    const eos = await wts.layerNorm(g.op('Gather', [x, g.int64s([eosIndex])], { axis: 1 }), `${P}final_layer_norm`, cfg.layerNormEps);
    const embeds = g.op('MatMul', [eos, await wts.w(PROJECTION, true)]);
    g.op('Reshape', [embeds, g.int64s([1, cfg.projectionDim])], undefined, 'text_embeds');
    g.output('text_embeds', 'float32', [1, cfg.projectionDim]);
  }
  return g;
}

export interface EmptyCaptionEncoding {
  /** [positions, width]: hidden_states[-1] (before final_layer_norm). */
  clipText: Float32Array;
  /** [1, projectionDim]: text_embeds. */
  clipTextPooled: Float32Array;
}

/** Runs the text tower on the empty caption (checkClipTextCheckpoint first), a few layers per onnxruntime session. */
export async function encodeEmptyCaption(
  ck: Checkpoint,
  cfg: ClipTextConfig = CLIP_TEXT_BIGG,
  opts: { layersPerGraph?: number; onProgress?: (done: number, total: number, label: string) => void } = {},
): Promise<EmptyCaptionEncoding> {
  checkClipTextCheckpoint(ck, cfg);
  const { ids, mask, eosIndex } = emptyCaptionTokens(cfg);
  const { width: W, positions: T } = cfg;
  const tokens = await ck.read(TOKEN_EMBEDDING);
  const pos = await ck.read(POSITION_EMBEDDING);
  let hidden = new Float32Array(T * W);
  for (let t = 0; t < T; t++) for (let c = 0; c < W; c++) hidden[t * W + c] = tokens[ids[t] * W + c] + pos[t * W + c];
  const maskTensor = floatTensor(textAttentionMask(mask), [1, 1, T, T]);
  const step = Math.max(1, opts.layersPerGraph ?? DEFAULT_LAYERS_PER_GRAPH);
  let pooled: Float32Array | undefined;
  for (let from = 0; from < cfg.layers; from += step) {
    const to = Math.min(cfg.layers, from + step);
    opts.onProgress?.(from, cfg.layers, `CLIP text layers ${from}-${to - 1}`);
    const session = await createSession((await layersGraph(ck, cfg, from, to, eosIndex)).toBytes());
    try {
      const out = await session.run({ hidden: floatTensor(hidden, [1, T, W]), mask: maskTensor });
      hidden = new Float32Array(out.hidden_out.data as Float32Array);
      if (out.text_embeds) pooled = new Float32Array(out.text_embeds.data as Float32Array);
    } finally {
      await session.release();
    }
  }
  opts.onProgress?.(cfg.layers, cfg.layers, 'CLIP text done');
  if (!pooled) throw new Error('CLIP text tower: the last graph gave no text_embeds');
  return { clipText: hidden, clipTextPooled: pooled };
}

/** The empty prompt's CLIP text encodings (the pack's unconditional constants), with their source. */
export interface UnconditionalClip {
  clipText: Float32Array;
  clipTextPooled: Float32Array;
  source: string;
}

/** encodeEmptyCaption with the files it read (and their sha256, when the caller hashed them) as the source. */
export async function unconditionalFromClipText(ck: Checkpoint, cfg: ClipTextConfig = CLIP_TEXT_BIGG, sha256: Record<string, string> = {}): Promise<UnconditionalClip> {
  const { clipText, clipTextPooled } = await encodeEmptyCaption(ck, cfg);
  const files = ck.files.map((f) => (sha256[f] ? `${f} (sha256 ${sha256[f]})` : f)).join(', ');
  return { clipText, clipTextPooled, source: `computed: CLIP ${cfg.name} encoder on the empty caption (hidden_states[-1] before final_layer_norm; text_embeds) from ${files}` };
}
