// GiT (Wang et al., 2022, "GIT: A Generative Image-to-text Transformer for Vision and Language"),
// as Hugging Face's GitForCausalLM stores it (e.g. microsoft/git-large-coco), built into two ONNX
// graphs from a checkpoint's tensors:
// - the image encoder: CLIP's vision tower under `git.image_encoder.vision_model.*` (clip.ts, the
//   same builder as `mirage pack clip`), whose output GiT feeds its decoder: post_layernorm applied to
//   every one of the 257 tokens (GitVisionTransformer's last_hidden_state). These are the features
//   MIRAGE's prompt head predicts.
// - the text decoder: `git.visual_projection` (Linear + LayerNorm) on those features, BERT-style
//   embeddings of the text (word + absolute position, LayerNorm), post-LN BERT layers (exact-erf GELU)
//   over [image tokens; text tokens] with GiT's mask (image tokens see image tokens only; text sees
//   every image token and the text up to itself), then `output` (Linear to the vocabulary).
// The decoder graph carries a key/value cache so each generated token costs one step: the
// image part goes through the layers once (first call, 257 image rows) and its keys/values stay in
// the cache with the text's; later calls feed 0 image rows and one token. The mask and positions
// are computed from absolute indices (past + new rows), so the same graph serves the first call, the
// steps, and a plain uncached call (empty past).
import { BundleError } from '../../base/errors.ts';
import { GraphBuilder } from '../../onnx/builder.ts';
import type { Checkpoint } from './checkpoint.ts';
import { buildClipVisionGraph, checkClipCheckpoint, clipParamCount, clipTokens, CLIP_VIT_B16, CLIP_VIT_L14, type ClipTowerLayout, type ClipVisionConfig } from './clip.ts';
import { graphWeights, ONNX_FLOAT, ONNX_HALF, type GraphPrecision, type GraphProgress } from './graphWeights.ts';

export interface GitConfig {
  /** Short name, used in messages ("GiT-large"). */
  name: string;
  vision: ClipVisionConfig;
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  vocab: number;
  maxPositions: number;
  /** The text side's LayerNorm epsilon (BERT's 1e-12); the visual projection's LayerNorm uses the vision one. */
  layerNormEps: number;
  bosTokenId: number;
  eosTokenId: number;
}

const TEXT = { hidden: 768, layers: 6, heads: 12, intermediate: 3072, vocab: 30522, maxPositions: 1024, layerNormEps: 1e-12, bosTokenId: 101, eosTokenId: 102 };
/** microsoft/git-large-coco (its config.json): CLIP ViT-L/14 at 224 px, 6-layer decoder of width 768. */
export const GIT_LARGE_COCO: GitConfig = { name: 'GiT-large', vision: { ...CLIP_VIT_L14, projectionDim: 0 }, ...TEXT };
/** microsoft/git-base(-coco): CLIP ViT-B/16; known so that giving it where GiT-large is expected is named as such. */
export const GIT_BASE: GitConfig = { name: 'GiT-base', vision: { ...CLIP_VIT_B16, projectionDim: 0 }, ...TEXT };
const KNOWN = [GIT_LARGE_COCO, GIT_BASE];

export const GIT_VISION_LAYOUT: ClipTowerLayout = { prefix: 'git.image_encoder.vision_model.', projection: null, lastHiddenState: 'post_layernorm' };

const E = 'git.embeddings.';
const VP = 'git.visual_projection.visual_projection.';
const LAYER = (i: number) => `git.encoder.layer.${i}.`;

/** Every text-side tensor (visual projection, embeddings, layers, output) with its shape, official HF key names. */
export function gitDecoderShapes(cfg: GitConfig): Map<string, number[]> {
  const { hidden: h, intermediate: f } = cfg;
  const m = new Map<string, number[]>([
    [`${VP}0.weight`, [h, cfg.vision.width]],
    [`${VP}0.bias`, [h]],
    [`${VP}1.weight`, [h]],
    [`${VP}1.bias`, [h]],
    [`${E}word_embeddings.weight`, [cfg.vocab, h]],
    [`${E}position_embeddings.weight`, [cfg.maxPositions, h]],
    [`${E}LayerNorm.weight`, [h]],
    [`${E}LayerNorm.bias`, [h]],
  ]);
  for (let i = 0; i < cfg.layers; i++) {
    const L = LAYER(i);
    for (const p of ['query', 'key', 'value']) {
      m.set(`${L}attention.self.${p}.weight`, [h, h]);
      m.set(`${L}attention.self.${p}.bias`, [h]);
    }
    m.set(`${L}attention.output.dense.weight`, [h, h]);
    m.set(`${L}attention.output.dense.bias`, [h]);
    m.set(`${L}attention.output.LayerNorm.weight`, [h]);
    m.set(`${L}attention.output.LayerNorm.bias`, [h]);
    m.set(`${L}intermediate.dense.weight`, [f, h]);
    m.set(`${L}intermediate.dense.bias`, [f]);
    m.set(`${L}output.dense.weight`, [h, f]);
    m.set(`${L}output.dense.bias`, [h]);
    m.set(`${L}output.LayerNorm.weight`, [h]);
    m.set(`${L}output.LayerNorm.bias`, [h]);
  }
  m.set('output.weight', [cfg.vocab, h]);
  m.set('output.bias', [cfg.vocab]);
  return m;
}

const count = (shapes: Map<string, number[]>) => [...shapes.values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);

/** Parameter counts from the config alone: the image encoder, the text decoder (with projection, embeddings and output), and all of GitForCausalLM. */
export function gitParamCount(cfg: GitConfig): { imageEncoder: number; textDecoder: number; total: number } {
  const imageEncoder = clipParamCount(cfg.vision, GIT_VISION_LAYOUT).total;
  const textDecoder = count(gitDecoderShapes(cfg));
  return { imageEncoder, textDecoder, total: imageEncoder + textDecoder };
}

export function gitImageTokens(cfg: GitConfig): number {
  return clipTokens(cfg.vision);
}

const fmt = (c: { width?: number; patchSize?: number; layers?: number; hidden?: number; textLayers?: number }) =>
  `vision width ${c.width}, patch ${c.patchSize}, ${c.layers} vision layers; text width ${c.hidden}, ${c.textLayers} text layers`;

/**
 * Checks a checkpoint against a GiT config before any value is read: another GiT (GiT-base given
 * for GiT-large) is named as such, a CLIP checkpoint is named as not GiT, then every tensor's presence
 * and shape (errors name the file and the tensor), and config.json's text settings when present.
 */
export function checkGitCheckpoint(ck: Checkpoint, cfg: GitConfig): void {
  const where = ck.files.join(', ') || ck.label;
  const get = (k: string) => ck.tensors.get(k);
  const P = GIT_VISION_LAYOUT.prefix;
  const patchKey = `${P}embeddings.patch_embedding.weight`;
  const patch = get(patchKey);
  if (!patch) {
    const clip = get('vision_model.embeddings.patch_embedding.weight');
    throw new BundleError(where, clip ? 'this is a CLIP checkpoint, not GiT (no git.* tensors)' : 'no GiT image encoder', {
      field: `tensor ${patchKey}`,
      expected: `a Hugging Face GitForCausalLM checkpoint (${cfg.name}, e.g. microsoft/git-large-coco)`,
    });
  }
  let vLayers = 0;
  while (get(`${P}encoder.layers.${vLayers}.self_attn.q_proj.weight`)) vLayers++;
  let tLayers = 0;
  while (get(`${LAYER(tLayers)}attention.self.query.weight`)) tLayers++;
  const found = { width: patch.shape[0], patchSize: patch.shape[2], layers: vLayers, hidden: get(`${E}word_embeddings.weight`)?.shape[1], textLayers: tLayers };
  const same = (c: GitConfig) => found.width === c.vision.width && found.patchSize === c.vision.patchSize && found.layers === c.vision.layers && found.hidden === c.hidden && found.textLayers === c.layers;
  if (!same(cfg)) {
    const known = KNOWN.find(same);
    throw new BundleError(patch.file, `the checkpoint is ${known ? known.name : 'another model'} (${fmt(found)})`, {
      field: `tensor ${patchKey}`,
      expected: `${cfg.name} (${fmt({ ...cfg.vision, hidden: cfg.hidden, textLayers: cfg.layers })})`,
    });
  }
  checkClipCheckpoint(ck, cfg.vision, GIT_VISION_LAYOUT);
  for (const [k, shape] of gitDecoderShapes(cfg)) {
    const t = get(k);
    if (!t) throw new BundleError(where, 'missing tensor', { field: `tensor ${k}`, expected: `shape [${shape.join(', ')}] (${cfg.name})` });
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new BundleError(t.file, `shape [${t.shape.join(', ')}]`, { field: `tensor ${k}`, expected: `[${shape.join(', ')}] (${cfg.name})` });
    }
  }
  const hf = ck.config as Record<string, unknown> | undefined;
  if (hf && typeof hf === 'object') {
    const file = `${ck.label}/config.json`;
    if (hf.num_attention_heads !== undefined && hf.num_attention_heads !== cfg.heads) throw new BundleError(file, `num_attention_heads ${String(hf.num_attention_heads)}`, { field: 'num_attention_heads', expected: `${cfg.heads} (${cfg.name})` });
    if (hf.hidden_act !== undefined && hf.hidden_act !== 'gelu') throw new BundleError(file, `hidden_act ${String(hf.hidden_act)}`, { field: 'hidden_act', expected: 'gelu (GiT text decoder)' });
    if (hf.position_embedding_type !== undefined && hf.position_embedding_type !== 'absolute') throw new BundleError(file, `position_embedding_type ${String(hf.position_embedding_type)}`, { field: 'position_embedding_type', expected: 'absolute' });
    if (hf.num_image_with_embedding !== undefined && hf.num_image_with_embedding !== null) throw new BundleError(file, `num_image_with_embedding ${String(hf.num_image_with_embedding)} (a video model)`, { field: 'num_image_with_embedding', expected: 'null (one image per caption)' });
  }
}

/** The image encoder graph: pixel_values [B, 3, S, S] -> last_hidden_state [B, 257, 1024] (post_layernorm of every token). */
export function buildGitImageGraph(ck: Checkpoint, cfg: GitConfig, opts: { onProgress?: GraphProgress; precision?: GraphPrecision } = {}): Promise<GraphBuilder> {
  checkGitCheckpoint(ck, cfg);
  return buildClipVisionGraph(ck, cfg.vision, { layout: GIT_VISION_LAYOUT, graphName: 'git_image_encoder', onProgress: opts.onProgress, precision: opts.precision });
}

/** The ONNX names and layout of the decoder's cache: [2·layers (k, v per layer), batch, heads, positions, head dim]. */
export const GIT_CACHE = { past: 'past_key_values', present: 'present_key_values' } as const;

/**
 * The text decoder graph. Inputs: prompt_features [B, n, Wv] (n = 257 image rows on the first call,
 * 0 on cached steps), input_ids [B, S] int64, past_key_values [2L, B, H, P, D] (P = 0 on the first
 * call). Outputs: logits [B, S, V] (text rows only; row S - 1 predicts the next token) and
 * present_key_values [2L, B, H, P + n + S, D].
 */
export async function buildGitDecoderGraph(ck: Checkpoint, cfg: GitConfig, opts: { onProgress?: GraphProgress; check?: boolean; precision?: GraphPrecision } = {}): Promise<GraphBuilder> {
  if (opts.check !== false) checkGitCheckpoint(ck, cfg);
  const f16 = opts.precision === 'float16';
  const g = new GraphBuilder(`git_text_decoder${f16 ? '_f16' : ''}`);
  g.metadata.model = `${cfg.name} text decoder (GitForCausalLM without its image encoder), with a key/value cache, ${f16 ? 'float16' : 'float32'} weights and arithmetic`;
  const { konst, w, linear, layerNorm } = graphWeights(g, ck, gitDecoderShapes(cfg), opts);
  // float16: the contract (features, cache, logits) stays float32; Casts at the ends.
  const inHalf = (x: string) => (f16 ? g.op('Cast', [x], { to: ONNX_HALF }) : x);
  const outFloat = (x: string, name: string) => (f16 ? g.op('Cast', [x], { to: ONNX_FLOAT }, name) : g.op('Identity', [x], undefined, name));
  const { hidden, heads } = cfg;
  const headDim = hidden / heads;
  const NI = gitImageTokens(cfg);
  g.input('prompt_features', 'float32', ['batch', 'image_tokens', cfg.vision.width]);
  g.input('input_ids', 'int64', ['batch', 'seq']);
  g.input(GIT_CACHE.past, 'float32', [2 * cfg.layers, 'batch', heads, 'past', headDim]);

  // Sizes of this call as int64 scalars: past positions, image rows, text rows.
  const dim = (x: string, axis: number) => g.op('Squeeze', [g.op('Slice', [g.op('Shape', [x]), g.int64s([axis]), g.int64s([axis + 1]), g.int64s([0])]), g.int64s([0])]);
  const past = dim(GIT_CACHE.past, 3);
  const nImg = dim('prompt_features', 1);
  const nText = dim('input_ids', 1);
  const one = g.int64s([1]);
  const scalar = (v: number) => {
    const name = g.fresh('scalar');
    g.initializer(name, [v], [], 'int64');
    return name;
  };
  const step = scalar(1);

  // Image rows: the visual projection (Linear 1024 -> 768, LayerNorm with the vision epsilon).
  const img = await layerNorm(await linear(inHalf('prompt_features'), `${VP}0`), `${VP}1`, cfg.vision.layerNormEps);
  const pastKv = inHalf(GIT_CACHE.past);
  // Text rows: word + absolute position (text positions continue after the cached text), LayerNorm.
  const textStart = g.op('Sub', [g.op('Add', [past, nImg]), scalar(NI)]);
  const posIds = g.op('Range', [textStart, g.op('Add', [textStart, nText]), step]);
  const words = g.op('Gather', [await w(`${E}word_embeddings.weight`), 'input_ids'], { axis: 0 });
  const pos = g.op('Gather', [await w(`${E}position_embeddings.weight`), posIds], { axis: 0 });
  const text = await layerNorm(g.op('Add', [words, pos]), `${E}LayerNorm`, cfg.layerNormEps);
  let h = g.op('Concat', [img, text], { axis: 1 });

  // GiT's mask over absolute indices: query q (past + row) may see key k when k is an image token,
  // or when q is a text token and k <= q. Additive: 0 where allowed, -inf elsewhere.
  const rows = g.op('Add', [nImg, nText]);
  const total = g.op('Add', [past, rows]);
  const q = g.op('Unsqueeze', [g.op('Range', [past, total, step]), one]); // [N, 1]
  const k = g.op('Unsqueeze', [g.op('Range', [scalar(0), total, step]), g.int64s([0])]); // [1, T]
  const ni = scalar(NI);
  const allowed = g.op('Or', [g.op('Less', [k, ni]), g.op('And', [g.op('GreaterOrEqual', [q, ni]), g.op('LessOrEqual', [k, q])])]);
  const mask = g.op('Where', [allowed, konst(Float32Array.of(0), [], 'mask_open'), konst(Float32Array.of(-Infinity), [], 'mask_closed')]);

  const toHeads = (t: string) => g.op('Transpose', [g.op('Reshape', [t, g.int64s([0, 0, heads, headDim])])], { perm: [0, 2, 1, 3] });
  const sqrtD = konst(Float32Array.of(Math.sqrt(headDim)), [], 'attn_sqrt_head_dim');
  const half = konst(Float32Array.of(0.5), [], 'gelu_half');
  const oneF = konst(Float32Array.of(1), [], 'gelu_one');
  const invSqrt2 = konst(Float32Array.of(Math.SQRT1_2), [], 'gelu_inv_sqrt2');
  const presents: string[] = [];
  for (let i = 0; i < cfg.layers; i++) {
    const L = LAYER(i);
    const cached = (j: number) => g.op('Gather', [pastKv, scalar(j)], { axis: 0 }); // [B, H, P, D]
    const qh = toHeads(await linear(h, `${L}attention.self.query`));
    const kAll = g.op('Concat', [cached(2 * i), toHeads(await linear(h, `${L}attention.self.key`))], { axis: 2 });
    const vAll = g.op('Concat', [cached(2 * i + 1), toHeads(await linear(h, `${L}attention.self.value`))], { axis: 2 });
    presents.push(g.op('Unsqueeze', [kAll, g.int64s([0])]), g.op('Unsqueeze', [vAll, g.int64s([0])]));
    // As the reference: scores / sqrt(d) + mask, softmax, weighted values.
    const scores = g.op('Add', [g.op('Div', [g.op('MatMul', [qh, g.op('Transpose', [kAll], { perm: [0, 1, 3, 2] })]), sqrtD]), mask]);
    const ctx = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), vAll])], { perm: [0, 2, 1, 3] }), g.int64s([0, 0, hidden])]);
    const a = await layerNorm(g.op('Add', [await linear(ctx, `${L}attention.output.dense`), h]), `${L}attention.output.LayerNorm`, cfg.layerNormEps);
    const inter = await linear(a, `${L}intermediate.dense`);
    // GELU, exact: x/2 · (1 + erf(x/√2)) (ONNX 17 has no Gelu op).
    const gelu = g.op('Mul', [g.op('Mul', [inter, half]), g.op('Add', [oneF, g.op('Erf', [g.op('Mul', [inter, invSqrt2])])])]);
    h = await layerNorm(g.op('Add', [await linear(gelu, `${L}output.dense`), a]), `${L}output.LayerNorm`, cfg.layerNormEps);
  }
  // Logits of the text rows only (the image rows predict nothing).
  const textRows = g.op('Slice', [h, g.op('Unsqueeze', [nImg, g.int64s([0])]), g.int64s([2 ** 62]), one]);
  outFloat(await linear(textRows, 'output'), 'logits');
  outFloat(g.op('Concat', presents, { axis: 0 }), GIT_CACHE.present);
  g.output('logits', 'float32', ['batch', 'seq', cfg.vocab]);
  g.output(GIT_CACHE.present, 'float32', [2 * cfg.layers, 'batch', heads, 'total', headDim]);
  return g;
}
