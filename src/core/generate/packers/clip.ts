// CLIP's vision tower (Hugging Face CLIPVisionModelWithProjection, e.g. openai/clip-vit-large-patch14)
// as an ONNX graph built from a checkpoint's tensors, for the `imageEncoder` stage: pixel_values
// [B, 3, S, S] -> last_hidden_state [B, 1 + (S/P)^2, W] (the encoder output, before post_layernorm,
// as transformers returns it) and image_embeds [B, proj] (post_layernorm of the CLS token, then
// visual_projection, no bias). The architecture (Radford et al., 2021, "Learning Transferable Visual
// Models From Natural Language Supervision"): patch conv without bias, a class token, learned
// positions, pre-LayerNorm, pre-LN transformer blocks with quick_gelu MLPs (x·sigmoid(1.702x)).
// The builder is driven by a config, so tests run it at reduced width and depth against reference
// outputs computed on the same random checkpoint, and the real ViT-L/14 is the same code.
import { BundleError } from '../../base/errors.ts';
import { conv2d, GraphBuilder } from '../../onnx/builder.ts';
import type { Checkpoint } from './checkpoint.ts';
import { graphWeights, ONNX_FLOAT, ONNX_HALF, type GraphPrecision, type GraphProgress, type GraphWeights } from './graphWeights.ts';

/** The transformer sizes every CLIP tower (vision, text) is described by. */
export interface ClipTowerSizes {
  /** Short name, used in messages ("ViT-L/14"). */
  name: string;
  width: number;
  layers: number;
  heads: number;
  mlp: number;
  projectionDim: number;
  layerNormEps: number;
}

export interface ClipVisionConfig extends ClipTowerSizes {
  imageSize: number;
  patchSize: number;
}

/** openai/clip-vit-large-patch14 (its config.json vision_config; projection_dim 768). */
export const CLIP_VIT_L14: ClipVisionConfig = { name: 'ViT-L/14', imageSize: 224, patchSize: 14, width: 1024, layers: 24, heads: 16, mlp: 4096, projectionDim: 768, layerNormEps: 1e-5 };
/** openai/clip-vit-base-patch32: known so that giving it where ViT-L/14 is expected is named as such. */
export const CLIP_VIT_B32: ClipVisionConfig = { name: 'ViT-B/32', imageSize: 224, patchSize: 32, width: 768, layers: 12, heads: 12, mlp: 3072, projectionDim: 512, layerNormEps: 1e-5 };
/** openai/clip-vit-base-patch16. */
export const CLIP_VIT_B16: ClipVisionConfig = { ...CLIP_VIT_B32, name: 'ViT-B/16', patchSize: 16 };
const KNOWN = [CLIP_VIT_L14, CLIP_VIT_B32, CLIP_VIT_B16];

export function clipTokens(cfg: ClipVisionConfig): number {
  return (cfg.imageSize / cfg.patchSize) ** 2 + 1;
}

/**
 * Where the tower sits in a checkpoint and what its `last_hidden_state` is. CLIPVisionModelWithProjection:
 * keys under `vision_model.`, a `visual_projection`, and last_hidden_state = the encoder output
 * before post_layernorm. GiT (GitVisionModel inside GitForCausalLM): keys under
 * `git.image_encoder.vision_model.`, no projection, and last_hidden_state = post_layernorm applied
 * to every token (what GiT's text decoder reads).
 */
export interface ClipTowerLayout {
  prefix: string;
  /** The projection's key (Linear without bias), or null for a tower without one. */
  projection: string | null;
  lastHiddenState: 'encoder' | 'post_layernorm';
}
export const CLIP_LAYOUT: ClipTowerLayout = { prefix: 'vision_model.', projection: 'visual_projection.weight', lastHiddenState: 'encoder' };

/** The tensors of one transformer layer (clipBlocks) under `prefix` (`….encoder.layers.N.`), vision and text alike. */
export function addClipLayerShapes(m: Map<string, number[]>, prefix: string, width: number, mlp: number): void {
  for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
    m.set(`${prefix}self_attn.${proj}.weight`, [width, width]);
    m.set(`${prefix}self_attn.${proj}.bias`, [width]);
  }
  for (const ln of ['layer_norm1', 'layer_norm2']) {
    m.set(`${prefix}${ln}.weight`, [width]);
    m.set(`${prefix}${ln}.bias`, [width]);
  }
  m.set(`${prefix}mlp.fc1.weight`, [mlp, width]);
  m.set(`${prefix}mlp.fc1.bias`, [mlp]);
  m.set(`${prefix}mlp.fc2.weight`, [width, mlp]);
  m.set(`${prefix}mlp.fc2.bias`, [width]);
}

/** Every tensor the vision tower (and its projection, if the layout has one) reads, with its shape, under the official HF key names. */
export function clipVisionShapes(cfg: ClipVisionConfig, layout: ClipTowerLayout = CLIP_LAYOUT): Map<string, number[]> {
  const { width: w, mlp, patchSize: p } = cfg;
  const P = layout.prefix;
  const L = (i: number) => `${P}encoder.layers.${i}.`;
  const m = new Map<string, number[]>([
    [`${P}embeddings.patch_embedding.weight`, [w, 3, p, p]],
    [`${P}embeddings.class_embedding`, [w]],
    [`${P}embeddings.position_embedding.weight`, [clipTokens(cfg), w]],
    // "pre_layrnorm" (sic) is the key transformers uses.
    [`${P}pre_layrnorm.weight`, [w]],
    [`${P}pre_layrnorm.bias`, [w]],
  ]);
  for (let i = 0; i < cfg.layers; i++) addClipLayerShapes(m, L(i), w, mlp);
  m.set(`${P}post_layernorm.weight`, [w]);
  m.set(`${P}post_layernorm.bias`, [w]);
  if (layout.projection) m.set(layout.projection, [cfg.projectionDim, w]);
  return m;
}

/** Parameter counts from the config alone (no weights): the tower, the projection, and both. */
export function clipParamCount(cfg: ClipVisionConfig, layout: ClipTowerLayout = CLIP_LAYOUT): { vision: number; projection: number; total: number } {
  let total = 0;
  for (const s of clipVisionShapes(cfg, layout).values()) total += s.reduce((a, b) => a * b, 1);
  const projection = layout.projection ? cfg.projectionDim * cfg.width : 0;
  return { vision: total - projection, projection, total };
}

const fmt = (c: Partial<ClipVisionConfig>) => `width ${c.width}, ${c.layers} layers, patch ${c.patchSize}, ${c.imageSize} px, projection ${c.projectionDim}`;

/**
 * What the checkpoint's shapes say the model is (width, depth, patch, image size, projection),
 * compared with the expected config: a different model (ViT-B/32 given for ViT-L/14) is named as
 * such; a checkpoint without the vision tower says which key is missing.
 */
export function checkClipCheckpoint(ck: Checkpoint, cfg: ClipVisionConfig, layout: ClipTowerLayout = CLIP_LAYOUT): void {
  const get = (k: string) => ck.tensors.get(k);
  const P = layout.prefix;
  const L = (i: number) => `${P}encoder.layers.${i}.`;
  const patch = get(`${P}embeddings.patch_embedding.weight`);
  if (!patch) {
    const hint = [...ck.tensors.keys()].some((k) => k.startsWith('visual.')) ? ' (this looks like an OpenAI CLIP .pt state dict; convert it to the Hugging Face layout, or use the HF folder)' : '';
    throw new BundleError(ck.files.join(', ') || ck.label, `no CLIP vision tower${hint}`, { field: `tensor ${P}embeddings.patch_embedding.weight`, expected: `a Hugging Face CLIP checkpoint (${cfg.name})` });
  }
  const pos = get(`${P}embeddings.position_embedding.weight`);
  const proj = layout.projection ? get(layout.projection) : undefined;
  let layers = 0;
  while (get(`${L(layers)}self_attn.q_proj.weight`)) layers++;
  const found: Partial<ClipVisionConfig> = {
    width: patch.shape[0],
    patchSize: patch.shape[2],
    layers,
    imageSize: pos && pos.shape.length === 2 ? Math.round(Math.sqrt(pos.shape[0] - 1)) * patch.shape[2] : undefined,
    projectionDim: layout.projection ? proj?.shape[0] : cfg.projectionDim,
  };
  const same = (a: Partial<ClipVisionConfig>, b: ClipVisionConfig) =>
    a.width === b.width && a.patchSize === b.patchSize && a.layers === b.layers && a.imageSize === b.imageSize && a.projectionDim === b.projectionDim;
  if (!same(found, cfg)) {
    const known = KNOWN.find((k) => same(found, k));
    throw new BundleError(patch.file, `the checkpoint is ${known ? `CLIP ${known.name}` : 'another model'} (${fmt(found)})`, {
      field: `tensor ${P}embeddings.patch_embedding.weight`,
      expected: `CLIP ${cfg.name} (${fmt(cfg)})`,
    });
  }
  const hf = (ck.config as { vision_config?: Record<string, unknown> } | undefined)?.vision_config;
  if (hf) {
    const heads = hf.num_attention_heads;
    const act = hf.hidden_act;
    if (heads !== undefined && heads !== cfg.heads) throw new BundleError(`${ck.label}/config.json`, `num_attention_heads ${String(heads)}`, { field: 'vision_config.num_attention_heads', expected: `${cfg.heads} (${cfg.name})` });
    if (act !== undefined && act !== 'quick_gelu') throw new BundleError(`${ck.label}/config.json`, `hidden_act ${String(act)}`, { field: 'vision_config.hidden_act', expected: 'quick_gelu (OpenAI CLIP)' });
  }
  for (const [k, shape] of clipVisionShapes(cfg, layout)) {
    const t = get(k);
    if (!t) throw new BundleError(ck.files.join(', ') || ck.label, 'missing tensor', { field: `tensor ${k}`, expected: `shape [${shape.join(', ')}] (${cfg.name})` });
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new BundleError(t.file, `shape [${t.shape.join(', ')}]`, { field: `tensor ${k}`, expected: `[${shape.join(', ')}] (${cfg.name})` });
    }
  }
}

/** The MLP's activation: OpenAI CLIP's x·sigmoid(1.702x), or exact (erf) GELU as OpenCLIP's ViT-bigG/14 uses. */
export type ClipActivation = 'quick_gelu' | 'gelu';

/**
 * One pre-LN CLIP transformer layer (`encoder.layers.N.*`: layer_norm1, self-attention with q/k/v/out
 * projections, residual; layer_norm2, fc1, activation, fc2, residual) as a function of the hidden
 * state [B, T, W] and the layer's key prefix. Shared by the vision tower (no mask, quick_gelu) and the
 * text tower (clipText.ts: an additive [B, 1, T, T] mask input for causality and padding, gelu or
 * quick_gelu). Constants are created once, so call this once per graph.
 */
export function clipBlocks(
  g: GraphBuilder,
  wts: Pick<GraphWeights, 'konst' | 'linear' | 'layerNorm'>,
  cfg: { width: number; heads: number; layerNormEps: number; act: ClipActivation },
  mask?: string,
): (x: string, prefix: string) => Promise<string> {
  const { width, heads } = cfg;
  const headDim = width / heads;
  const { konst, linear } = wts;
  const layerNorm = (x: string, key: string) => wts.layerNorm(x, key, cfg.layerNormEps);
  const toHeads = (t: string, perm: number[]) => g.op('Transpose', [g.op('Reshape', [t, g.int64s([0, 0, heads, headDim])])], { perm });
  const scale = konst(Float32Array.of(headDim ** -0.5), [1], 'attn_scale');
  let activation: (m: string) => string;
  if (cfg.act === 'quick_gelu') {
    const k = konst(Float32Array.of(1.702), [1], 'quick_gelu');
    activation = (m) => g.op('Mul', [m, g.op('Sigmoid', [g.op('Mul', [m, k])])]);
  } else {
    // 0.5·x·(1 + erf(x/√2)): opset 17 has Erf but no Gelu operator.
    const half = konst(Float32Array.of(0.5), [1], 'gelu_half');
    const one = konst(Float32Array.of(1), [1], 'gelu_one');
    const invSqrt2 = konst(Float32Array.of(Math.SQRT1_2), [1], 'gelu_inv_sqrt2');
    activation = (m) => g.op('Mul', [g.op('Mul', [m, half]), g.op('Add', [one, g.op('Erf', [g.op('Mul', [m, invSqrt2])])])]);
  }
  return async (x, prefix) => {
    const h = await layerNorm(x, `${prefix}layer_norm1`);
    const q = toHeads(g.op('Mul', [await linear(h, `${prefix}self_attn.q_proj`), scale]), [0, 2, 1, 3]);
    const kT = toHeads(await linear(h, `${prefix}self_attn.k_proj`), [0, 2, 3, 1]);
    const v = toHeads(await linear(h, `${prefix}self_attn.v_proj`), [0, 2, 1, 3]);
    const scores = g.op('MatMul', [q, kT]);
    const attn = g.op('Softmax', [mask ? g.op('Add', [scores, mask]) : scores], { axis: -1 });
    const ctx = g.op('Reshape', [g.op('Transpose', [g.op('MatMul', [attn, v])], { perm: [0, 2, 1, 3] }), g.int64s([0, 0, width])]);
    x = g.op('Add', [x, await linear(ctx, `${prefix}self_attn.out_proj`)]);
    const m = await linear(await layerNorm(x, `${prefix}layer_norm2`), `${prefix}mlp.fc1`);
    return g.op('Add', [x, await linear(activation(m), `${prefix}mlp.fc2`)]);
  };
}

export type ClipPrecision = GraphPrecision;
export type ClipGraphProgress = GraphProgress;
// ONNX TensorProto data types, for Cast.
const FLOAT = ONNX_FLOAT;
const HALF = ONNX_HALF;

/**
 * Builds the graph, reading each tensor once (checkCheckpoint first). Linear weights [out, in]
 * are stored transposed [in, out] so every projection is one MatMul.
 */
export async function buildClipVisionGraph(
  ck: Checkpoint,
  cfg: ClipVisionConfig,
  opts: { precision?: ClipPrecision; onProgress?: ClipGraphProgress; layout?: ClipTowerLayout; graphName?: string } = {},
): Promise<GraphBuilder> {
  const layout = opts.layout ?? CLIP_LAYOUT;
  checkClipCheckpoint(ck, cfg, layout);
  const f16 = opts.precision === 'float16';
  const P = layout.prefix;
  const L = (i: number) => `${P}encoder.layers.${i}.`;
  const g = new GraphBuilder(`${opts.graphName ?? `clip_${cfg.name.replace(/[^A-Za-z0-9]/g, '').toLowerCase()}`}_vision${f16 ? '_f16' : ''}`);
  g.metadata.model = `CLIP ${cfg.name} vision tower${layout.projection ? ' + projection (CLIPVisionModelWithProjection)' : ` (${P}*)`}, ${f16 ? 'float16' : 'float32'} weights and arithmetic`;
  const { konst, w, linear, layerNorm: ln } = graphWeights(g, ck, clipVisionShapes(cfg, layout), opts);
  const layerNorm = (x: string, key: string) => ln(x, key, cfg.layerNormEps);

  const { width, patchSize: p, imageSize: s } = cfg;
  const grid = s / p;
  g.input('pixel_values', 'float32', ['batch', 3, s, s]);
  // float16: the contract stays float32 at both ends; everything between runs in half precision.
  const pixels = f16 ? g.op('Cast', ['pixel_values'], { to: HALF }) : 'pixel_values';
  // Patches: [B, W, g, g] -> [B, g*g, W].
  const patches = conv2d(g, [pixels, await w(`${P}embeddings.patch_embedding.weight`)], [p, p], { strides: [p, p] });
  const seq = g.op('Transpose', [g.op('Reshape', [patches, g.int64s([0, width, grid * grid])])], { perm: [0, 2, 1] });
  // The class token, repeated over the batch: Expand to [B, 1, W].
  const cls = g.op('Reshape', [await w(`${P}embeddings.class_embedding`), g.int64s([1, 1, width])]);
  const batch = g.op('Slice', [g.op('Shape', ['pixel_values']), g.int64s([0]), g.int64s([1]), g.int64s([0])]);
  const clsB = g.op('Expand', [cls, g.op('Concat', [batch, g.int64s([1, width])], { axis: 0 })]);
  let x = g.op('Add', [g.op('Concat', [clsB, seq], { axis: 1 }), await w(`${P}embeddings.position_embedding.weight`)]);
  x = await layerNorm(x, `${P}pre_layrnorm`);
  const block = clipBlocks(g, { konst, linear, layerNorm: ln }, { width, heads: cfg.heads, layerNormEps: cfg.layerNormEps, act: 'quick_gelu' });
  for (let i = 0; i < cfg.layers; i++) x = await block(x, L(i));
  const toFloat = (t: string, name: string) => (f16 ? g.op('Cast', [t], { to: FLOAT }, name) : g.op('Identity', [t], undefined, name));
  g.output('last_hidden_state', 'float32', ['batch', clipTokens(cfg), width]);
  if (layout.lastHiddenState === 'post_layernorm') {
    toFloat(await layerNorm(x, `${P}post_layernorm`), 'last_hidden_state');
  } else {
    toFloat(x, 'last_hidden_state');
  }
  if (layout.projection) {
    const pooled = await layerNorm(g.op('Gather', [x, g.int64s([0])], { axis: 1 }), `${P}post_layernorm`);
    const embeds = g.op('MatMul', [pooled, await w(layout.projection, true)]);
    toFloat(g.op('Reshape', [embeds, g.int64s([0, cfg.projectionDim])]), 'image_embeds');
    g.output('image_embeds', 'float32', ['batch', cfg.projectionDim]);
  }
  return g;
}
