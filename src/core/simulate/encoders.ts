// The demo's five feature spaces, each produced by a small stand-in encoder built as a REAL ONNX
// graph (src/core/onnx) and run with onnxruntime-web. They play MIRAGE's roles (docs/background.md §3) at
// toy sizes (dims.ts); none is a trained network. docs/simulation.md ("Demo encoders") lists what each
// stands in for. Weights come from the seed (and, for the image encoder's centring, the training set).
import { conv2d, GraphBuilder } from '../onnx/builder.ts';
import { createSession, ort, type OrtSession } from '../onnx/runtime.ts';
import {
  BLURRY_DIM,
  BLURRY_LAYERS,
  IMAGE_EMBED_DIM,
  IMAGE_SIZE,
  LOWLEVEL_SIZE,
  PROMPT_DIM,
  PROMPT_TOKENS,
  RETRIEVAL_DIM,
  RETRIEVAL_TOKENS,
  SEMANTIC_DIM,
  TEXT_DIM,
  TEXT_TOKENS,
} from './dims.ts';
import { streamFor } from '../base/rng.ts';
import { addClassEmbedding, addShapeDescriptor, type ShapeClassifier } from './shapeFeatures.ts';
import { SemanticSpace, vocabularyWords, words } from './world.ts';

export const ENCODER_NAMES = ['image_encoder', 'text_encoder', 'lowlevel_encoder', 'lowlevel_decoder', 'retrieval_encoder', 'prompt_encoder'] as const;
export type EncoderName = (typeof ENCODER_NAMES)[number];

export interface TensorSig {
  name: string;
  dtype: 'float32' | 'int64';
  shape: (number | string)[];
}
export interface EncoderInfo {
  name: EncoderName;
  file: string;
  /** MIRAGE's model this graph stands in for. */
  standsInFor: string;
  description: string;
  inputs: TensorSig[];
  outputs: TensorSig[];
}

// ---------- tokenizer (text encoder input) ----------

export const PAD = 0;
export const BOS = 1;
export const EOS = 2;
export const UNK = 3;

/** Token table: ids 0–3 are <pad>, <bos>, <eos>, <unk>; then the world's words in a fixed order. */
export function vocabulary(): string[] {
  return ['<pad>', '<bos>', '<eos>', '<unk>', ...vocabularyWords()];
}

/** Token ids [TEXT_TOKENS] of a caption: <bos> words… <eos> <pad>…, truncated to fit. */
export function tokenize(text: string, vocab = vocabulary()): BigInt64Array {
  const index = new Map(vocab.map((w, i) => [w, i]));
  const ids = new BigInt64Array(TEXT_TOKENS);
  ids[0] = BigInt(BOS);
  const ws = words(text).slice(0, TEXT_TOKENS - 2);
  ws.forEach((w, i) => (ids[i + 1] = BigInt(index.get(w) ?? UNK)));
  ids[ws.length + 1] = BigInt(EOS);
  return ids;
}

// ---------- DCT code (low-level autoencoder) ----------

/** Orthonormal DCT-II matrix [N, N]: D[k, n] = c_k cos(π (2n + 1) k / 2N). */
export function dctMatrix(n: number): Float32Array {
  const d = new Float32Array(n * n);
  for (let k = 0; k < n; k++) {
    const c = k === 0 ? Math.sqrt(1 / n) : Math.sqrt(2 / n);
    for (let i = 0; i < n; i++) d[k * n + i] = c * Math.cos((Math.PI * (2 * i + 1) * k) / (2 * n));
  }
  return d;
}

/**
 * Flat indices (channel·N² + u·N + v) of the kept DCT coefficients, coarse to fine: layer 0 is the
 * DC of Y, Cb, Cr; layer k ≥ 1 holds max(u, v) ∈ [2^(k−1), 2^k), chroma only up to layer 3.
 */
export function latentIndices(): { indices: number[]; layers: number[] } {
  const N = LOWLEVEL_SIZE;
  const indices: number[] = [];
  const layers: number[] = [];
  for (let L = 0; L < BLURRY_LAYERS.length; L++) {
    const lo = L === 0 ? 0 : 2 ** (L - 1);
    const hi = L === 0 ? 1 : 2 ** L;
    const start = indices.length;
    for (let ch = 0; ch < 3; ch++) {
      if (ch > 0 && L > 3) continue;
      for (let u = 0; u < hi; u++) for (let v = 0; v < hi; v++) if (Math.max(u, v) >= lo) indices.push(ch * N * N + u * N + v);
    }
    layers.push(indices.length - start);
  }
  if (indices.length !== BLURRY_DIM) throw new Error(`latentIndices: ${indices.length} != BLURRY_DIM ${BLURRY_DIM}`);
  layers.forEach((n, i) => {
    if (n !== BLURRY_LAYERS[i]) throw new Error(`latentIndices: layer ${i} has ${n}, dims.ts says ${BLURRY_LAYERS[i]}`);
  });
  return { indices, layers };
}

const RGB_TO_YCC = [0.299, 0.587, 0.114, -0.168736, -0.331264, 0.5, 0.5, -0.418688, -0.081312];
const YCC_TO_RGB = [1, 0, 1.402, 1, -0.344136, -0.714136, 1, 1.772, 0];

function transposeSq(m: Float32Array, n: number): Float32Array {
  const t = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = m[i * n + j];
  return t;
}

// ---------- graphs ----------


/** Pre-projection features of the image encoder: 16x8x8 conv features then 4x4x4 oriented energy. */
export const IMAGE_FEATURES = 16 * 8 * 8 + 4 * 4 * 4;
/** Weight of the oriented-energy features after standardisation (they are 64 of 1088 features). */
const ENERGY_FEATURE_WEIGHT = 4;

export interface ImageFeatureStats {
  /** Training-image mean of each pre-projection feature. */
  mean: Float32Array;
  /** Training-image standard deviation of each pre-projection feature. */
  std: Float32Array;
}

/**
 * Image encoder: (a) 4x4 average pool to 32x32, 16 5x5 filters (8 Gabor on luminance, 8
 * colour-opponent blobs), ReLU, 4x4 pool -> 1024; (b) luminance, 4 zero-mean quadrature Gabor pairs
 * (7x7, wavelength 4), energy sqrt(even² + odd²), 8x8 pool -> 64; concatenated, standardised with
 * the training images' mean/std (energy part weighted x4), random projection to IMAGE_EMBED_DIM.
 * `featuresOnly`: output the 1088 pre-projection features (used once to fit the statistics).
 */
function imageEncoderGraph(seed: number, stats: ImageFeatureStats | null, featuresOnly = false): GraphBuilder {
  const rng = streamFor(seed, 'enc-image');
  const g = new GraphBuilder(featuresOnly ? 'image_features' : 'image_encoder');
  g.metadata.standsInFor = 'CLIP ViT-L/14 image embedding (simulated stand-in)';
  g.input('image', 'float32', ['batch', 3, IMAGE_SIZE, IMAGE_SIZE]);
  if (featuresOnly) g.output('features', 'float32', ['batch', IMAGE_FEATURES]);
  else g.output('embedding', 'float32', ['batch', IMAGE_EMBED_DIM]);
  const nF = 16;
  const k = 5;
  const W = new Float32Array(nF * 3 * k * k);
  const lumW = [0.299, 0.587, 0.114];
  for (let f = 0; f < nF; f++) {
    const gabor = f < 8;
    const theta = ((f % 4) * Math.PI) / 4;
    const phase = f < 4 ? 0 : Math.PI / 2;
    const col = [rng.normal(), rng.normal(), rng.normal()];
    const cm = (col[0] + col[1] + col[2]) / 3;
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < k; y++) {
        for (let x = 0; x < k; x++) {
          const dx = x - 2;
          const dy = 2 - y;
          const env = Math.exp(-(dx * dx + dy * dy) / (2 * 1.4 * 1.4));
          const across = -Math.sin(theta) * dx + Math.cos(theta) * dy;
          const v = gabor ? lumW[c] * env * Math.cos((2 * Math.PI * across) / 4 + phase) : (col[c] - cm) * env * 0.5;
          W[((f * 3 + c) * k + y) * k + x] = v;
        }
      }
    }
  }
  const pooled = g.op('AveragePool', ['image'], { kernel_shape: [4, 4], strides: [4, 4] });
  const conv = conv2d(g, [pooled, g.floats(W, [nF, 3, k, k])], [k, k], { pads: [2, 2, 2, 2] });
  const relu = g.op('Relu', [conv]);
  const grid = g.op('AveragePool', [relu], { kernel_shape: [4, 4], strides: [4, 4] }); // [b,16,8,8]
  const flatA = g.op('Reshape', [grid, g.int64s([0, -1])]); // [b,1024]
  // oriented energy
  const ks = 7;
  const even = new Float32Array(4 * ks * ks);
  const odd = new Float32Array(4 * ks * ks);
  for (let o = 0; o < 4; o++) {
    const theta = (o * Math.PI) / 4;
    let me = 0;
    for (let y = 0; y < ks; y++) {
      for (let x = 0; x < ks; x++) {
        const dx = x - 3;
        const dy = 3 - y;
        const env = Math.exp(-(dx * dx + dy * dy) / (2 * 1.5 * 1.5));
        const across = -Math.sin(theta) * dx + Math.cos(theta) * dy;
        even[(o * ks + y) * ks + x] = env * Math.cos((2 * Math.PI * across) / 4);
        odd[(o * ks + y) * ks + x] = env * Math.sin((2 * Math.PI * across) / 4);
        me += even[(o * ks + y) * ks + x] / (ks * ks);
      }
    }
    for (let i = 0; i < ks * ks; i++) even[o * ks * ks + i] -= me;
  }
  const lum = conv2d(g, [pooled, g.floats(lumW, [1, 3, 1, 1], 'lum')], [1, 1]);
  const e = conv2d(g, [lum, g.floats(even, [4, 1, ks, ks], 'gabor_even')], [ks, ks], { pads: [3, 3, 3, 3] });
  const od = conv2d(g, [lum, g.floats(odd, [4, 1, ks, ks], 'gabor_odd')], [ks, ks], { pads: [3, 3, 3, 3] });
  const energy = g.op('Sqrt', [g.op('Add', [g.op('Mul', [e, e]), g.op('Mul', [od, od])])]);
  const eGrid = g.op('AveragePool', [energy], { kernel_shape: [8, 8], strides: [8, 8] }); // [b,4,4,4]
  const flatB = g.op('Reshape', [eGrid, g.int64s([0, -1])]); // [b,64]
  if (featuresOnly) {
    g.node('Concat', [flatA, flatB], ['features'], { axis: 1 });
    return g;
  }
  const feats = g.op('Concat', [flatA, flatB], { axis: 1 });
  const mean = stats?.mean ?? new Float32Array(IMAGE_FEATURES);
  const scale = new Float32Array(IMAGE_FEATURES);
  for (let i = 0; i < IMAGE_FEATURES; i++) {
    const sd = stats ? stats.std[i] : 1;
    scale[i] = (i >= 1024 ? ENERGY_FEATURE_WEIGHT : 1) / (sd > 1e-6 ? sd : 1);
  }
  const standard = g.op('Mul', [g.op('Sub', [feats, g.floats(mean, [IMAGE_FEATURES], 'feature_mean')]), g.floats(scale, [IMAGE_FEATURES], 'feature_scale')]);
  const P = rng.normals(IMAGE_FEATURES * IMAGE_EMBED_DIM, 1 / Math.sqrt(IMAGE_FEATURES));
  g.node('MatMul', [standard, g.floats(P, [IMAGE_FEATURES, IMAGE_EMBED_DIM], 'proj')], ['embedding']);
  return g;
}

/** The image encoder's pre-projection features (to fit ImageFeatureStats on the training images). */
export function imageFeatureGraph(seed: number): Uint8Array {
  return imageEncoderGraph(seed, null, true).toBytes();
}

function textEncoderGraph(seed: number): GraphBuilder {
  const rng = streamFor(seed, 'enc-text');
  const sem = new SemanticSpace(seed);
  const vocab = vocabulary();
  const g = new GraphBuilder('text_encoder');
  g.metadata.standsInFor = 'CLIP ViT-bigG/14 text encoder last hidden state (simulated stand-in)';
  g.input('tokens', 'int64', ['batch', TEXT_TOKENS]).output('hidden', 'float32', ['batch', TEXT_TOKENS, TEXT_DIM]);
  // Words with a meaning embed through a fixed map of their semantic vector; others are random.
  const R = rng.normals(SEMANTIC_DIM * TEXT_DIM, 1.5 / Math.sqrt(SEMANTIC_DIM));
  const E = new Float32Array(vocab.length * TEXT_DIM);
  vocab.forEach((w, i) => {
    if (i === PAD) return;
    const own = rng.normals(TEXT_DIM, 0.3);
    for (let d = 0; d < TEXT_DIM; d++) {
      let v = own[d];
      if (sem.has(w)) {
        const s = sem.word(w);
        for (let k = 0; k < SEMANTIC_DIM; k++) v += s[k] * R[k * TEXT_DIM + d];
      }
      E[i * TEXT_DIM + d] = v;
    }
  });
  const pos = rng.normals(TEXT_TOKENS * TEXT_DIM, 0.2);
  // token mixing: half the token itself, half the causal mean of the tokens up to it
  const M = new Float32Array(TEXT_TOKENS * TEXT_TOKENS);
  for (let t = 0; t < TEXT_TOKENS; t++) {
    for (let s = 0; s <= t; s++) M[t * TEXT_TOKENS + s] = 0.5 / (t + 1);
    M[t * TEXT_TOKENS + t] += 0.5;
  }
  const emb = g.op('Gather', [g.floats(E, [vocab.length, TEXT_DIM], 'token_embedding'), 'tokens'], { axis: 0 });
  const withPos = g.op('Add', [emb, g.floats(pos, [TEXT_TOKENS, TEXT_DIM], 'pos')]);
  const t1 = g.op('Transpose', [withPos], { perm: [0, 2, 1] });
  const mixed = g.op('MatMul', [t1, g.floats(transposeSq(M, TEXT_TOKENS), [TEXT_TOKENS, TEXT_TOKENS], 'mix')]);
  const t2 = g.op('Transpose', [mixed], { perm: [0, 2, 1] });
  g.node('Tanh', [t2], ['hidden']);
  return g;
}

function lowlevelEncoderGraph(): GraphBuilder {
  const N = LOWLEVEL_SIZE;
  const g = new GraphBuilder('lowlevel_encoder');
  g.metadata.standsInFor = 'VDVAE encoder, first 31 layers of latents (simulated stand-in: multi-scale DCT code)';
  g.input('image', 'float32', ['batch', 3, N, N]).output('latents', 'float32', ['batch', BLURRY_DIM]);
  const D = dctMatrix(N);
  const ycc = conv2d(g, ['image', g.floats(Float32Array.from(RGB_TO_YCC), [3, 3, 1, 1], 'rgb2ycc'), g.floats([-0.5, 0, 0], [3], 'ycc_bias')], [1, 1]);
  const left = g.op('MatMul', [g.floats(D, [N, N], 'dct'), ycc]);
  const coeffs = g.op('MatMul', [left, g.floats(transposeSq(D, N), [N, N], 'dct_t')]);
  const flat = g.op('Reshape', [coeffs, g.int64s([0, -1])]);
  const { indices } = latentIndices();
  g.node('Gather', [flat, g.int64s(indices, 'latent_index')], ['latents'], { axis: 1 });
  return g;
}

function lowlevelDecoderGraph(): GraphBuilder {
  const N = LOWLEVEL_SIZE;
  const g = new GraphBuilder('lowlevel_decoder');
  g.metadata.standsInFor = 'VDVAE decoder -> 64x64 image (simulated stand-in: inverse multi-scale DCT)';
  g.input('latents', 'float32', [1, BLURRY_DIM]).output('image', 'float32', [1, 3, N, N]);
  const D = dctMatrix(N);
  const { indices } = latentIndices();
  // Scatter the latents into the zero DCT cube as a Gather: position k of the cube takes latent
  // source[k], or the appended zero (index BLURRY_DIM) where no latent lands. (ScatterElements, the
  // direct op, runs on the CPU under onnxruntime-web's WebGPU EP: webgpu-graphs.spec.ts.)
  const source = new Array<number>(3 * N * N).fill(BLURRY_DIM);
  indices.forEach((flat, i) => (source[flat] = i));
  const padded = g.op('Concat', ['latents', g.floats([0], [1, 1], 'zero')], { axis: 1 }); // [1, BLURRY_DIM + 1]
  const full = g.op('Gather', [padded, g.int64s(source, 'cube_source')], { axis: 1 }); // [1, 3·N²]
  const cube = g.op('Reshape', [full, g.int64s([1, 3, N, N])]);
  const left = g.op('MatMul', [g.floats(transposeSq(D, N), [N, N], 'idct_t'), cube]);
  const pix = g.op('MatMul', [left, g.floats(D, [N, N], 'idct')]);
  const rgb = conv2d(g, [pix, g.floats(Float32Array.from(YCC_TO_RGB), [3, 3, 1, 1], 'ycc2rgb'), g.floats([0.5, 0.5, 0.5], [3], 'rgb_bias')], [1, 1]);
  g.node('Clip', [rgb, g.floats([0], [], 'lo'), g.floats([1], [], 'hi')], ['image']);
  return g;
}

/** Gain of the class embedding added to the prompt encoder's mean token (word vectors have unit norm). */
export const PROMPT_CLASS_GAIN = 3;

/**
 * A ViT-like patch encoder: 4x4 patches of the 64x64 image + a mean token, tanh, optional per-token L2.
 * The prompt encoder's mean token also carries a class embedding (shapeFeatures.ts: a rotation- and
 * translation-invariant shape descriptor, a classifier fitted on the training images, class word
 * vectors weighted by its softmax), the semantic content GiT's image features have.
 */
function patchEncoderGraph(seed: number, name: 'retrieval_encoder' | 'prompt_encoder', classifier: ShapeClassifier | null = null): GraphBuilder {
  const rng = streamFor(seed, `enc-${name}`);
  const isRetrieval = name === 'retrieval_encoder';
  const T = isRetrieval ? RETRIEVAL_TOKENS : PROMPT_TOKENS;
  const Dm = isRetrieval ? RETRIEVAL_DIM : PROMPT_DIM;
  const out = isRetrieval ? 'hidden' : 'features';
  const g = new GraphBuilder(name);
  g.metadata.standsInFor = isRetrieval
    ? 'CLIP ViT-L/14 last hidden state, tokens L2-normalised (simulated stand-in)'
    : 'GiT-large-coco image encoder features (simulated stand-in)';
  g.input('image', 'float32', ['batch', 3, IMAGE_SIZE, IMAGE_SIZE]).output(out, 'float32', ['batch', T, Dm]);
  const P = 16;
  // smooth filters: random mixtures of the first 4x4 DCT basis functions of a patch, per channel
  const Dp = dctMatrix(P);
  const W = new Float32Array(Dm * 3 * P * P);
  const bias = new Float32Array(Dm);
  for (let f = 0; f < Dm; f++) {
    let ss = 0;
    for (let c = 0; c < 3; c++) {
      for (let u = 0; u < 4; u++) {
        for (let v = 0; v < 4; v++) {
          const a = rng.normal() / (1 + u + v);
          for (let y = 0; y < P; y++) for (let x = 0; x < P; x++) W[((f * 3 + c) * P + y) * P + x] += a * Dp[u * P + y] * Dp[v * P + x];
        }
      }
    }
    const o = f * 3 * P * P;
    for (let i = 0; i < 3 * P * P; i++) ss += W[o + i] ** 2;
    let sum = 0;
    for (let i = 0; i < 3 * P * P; i++) sum += (W[o + i] *= 0.3 / Math.sqrt(ss));
    bias[f] = -0.5 * sum; // zero response to mid-grey
  }
  const half = g.op('AveragePool', ['image'], { kernel_shape: [2, 2], strides: [2, 2] });
  const patches = conv2d(g, [half, g.floats(W, [Dm, 3, P, P], 'patch_w'), g.floats(bias, [Dm], 'patch_b')], [P, P], { strides: [P, P] });
  const seq = g.op('Reshape', [patches, g.int64s([0, Dm, T - 1])]);
  const tokens = g.op('Transpose', [seq], { perm: [0, 2, 1] });
  let cls = g.op('ReduceMean', [tokens], { axes: [1], keepdims: 1 });
  if (!isRetrieval) {
    if (Dm !== SEMANTIC_DIM) throw new Error(`prompt_encoder: PROMPT_DIM ${Dm} must equal SEMANTIC_DIM ${SEMANTIC_DIM} (class word vectors)`);
    const classEmb = addClassEmbedding(g, addShapeDescriptor(g, 'image'), classifier, seed); // [b, 32]
    const scaled = g.op('Mul', [classEmb, g.floats([PROMPT_CLASS_GAIN], [1], 'class_gain')]);
    cls = g.op('Add', [cls, g.op('Reshape', [scaled, g.int64s([0, 1, Dm])])]);
  }
  const all = g.op('Concat', [cls, tokens], { axis: 1 });
  const pos = g.op('Add', [all, g.floats(rng.normals(T * Dm, 0.1), [T, Dm], 'pos')]);
  if (isRetrieval) {
    const th = g.op('Tanh', [pos]);
    // x / ‖x‖₂ per token (LpNormalization, the direct op, runs on the CPU under the WebGPU EP)
    g.node('Div', [th, g.op('ReduceL2', [th], { axes: [-1], keepdims: 1 })], [out]);
  } else {
    g.node('Tanh', [pos], [out]);
  }
  return g;
}

export interface EncoderGraphs {
  bytes: Record<EncoderName, Uint8Array>;
  info: EncoderInfo[];
}

/**
 * Builds every demo encoder. `imageStats` standardises the image encoder's features (fitted on the
 * training images with imageFeatureGraph); null leaves them raw (tests).
 */
export function buildEncoderGraphs(seed: number, imageStats: ImageFeatureStats | null, promptClassifier: ShapeClassifier | null = null): EncoderGraphs {
  const graphs: Record<EncoderName, GraphBuilder> = {
    image_encoder: imageEncoderGraph(seed, imageStats),
    text_encoder: textEncoderGraph(seed),
    lowlevel_encoder: lowlevelEncoderGraph(),
    lowlevel_decoder: lowlevelDecoderGraph(),
    retrieval_encoder: patchEncoderGraph(seed, 'retrieval_encoder'),
    prompt_encoder: patchEncoderGraph(seed, 'prompt_encoder', promptClassifier),
  };
  const bytes = {} as Record<EncoderName, Uint8Array>;
  for (const n of ENCODER_NAMES) bytes[n] = graphs[n].toBytes();
  const img = (s: number): (number | string)[] => ['batch', 3, s, s];
  const info: EncoderInfo[] = [
    { name: 'image_encoder', file: 'models/image_encoder.onnx', standsInFor: 'CLIP ViT-L/14 image embedding (768)', description: 'avg-pool to 32x32; 16 Gabor/colour 5x5 filters, ReLU, 8x8 pooling (1024) + oriented Gabor energy at 4x4 (64); standardised with training-image statistics; random projection', inputs: [{ name: 'image', dtype: 'float32', shape: img(IMAGE_SIZE) }], outputs: [{ name: 'embedding', dtype: 'float32', shape: ['batch', IMAGE_EMBED_DIM] }] },
    { name: 'text_encoder', file: 'models/text_encoder.onnx', standsInFor: 'CLIP ViT-bigG/14 text last hidden state (77x1280)', description: 'token embedding (semantic word vectors mapped to TEXT_DIM) + positions, causal token mixing, tanh', inputs: [{ name: 'tokens', dtype: 'int64', shape: ['batch', TEXT_TOKENS] }], outputs: [{ name: 'hidden', dtype: 'float32', shape: ['batch', TEXT_TOKENS, TEXT_DIM] }] },
    { name: 'lowlevel_encoder', file: 'models/lowlevel_encoder.onnx', standsInFor: 'VDVAE encoder, latents of the first 31 layers (91168)', description: 'RGB->YCbCr, orthonormal 2-D DCT, coefficients grouped by octave (layers coarse to fine)', inputs: [{ name: 'image', dtype: 'float32', shape: img(LOWLEVEL_SIZE) }], outputs: [{ name: 'latents', dtype: 'float32', shape: ['batch', BLURRY_DIM] }] },
    { name: 'lowlevel_decoder', file: 'models/lowlevel_decoder.onnx', standsInFor: 'VDVAE decoder -> 64x64 image', description: 'scatter latents into the DCT cube, inverse DCT, YCbCr->RGB, clip to [0,1]', inputs: [{ name: 'latents', dtype: 'float32', shape: [1, BLURRY_DIM] }], outputs: [{ name: 'image', dtype: 'float32', shape: [1, 3, LOWLEVEL_SIZE, LOWLEVEL_SIZE] }] },
    { name: 'retrieval_encoder', file: 'models/retrieval_encoder.onnx', standsInFor: 'CLIP ViT-L/14 last hidden state, per-token L2-normalised (257x1024)', description: '16 patch tokens of smooth random filters + mean token, positions, tanh, per-token L2 norm', inputs: [{ name: 'image', dtype: 'float32', shape: img(IMAGE_SIZE) }], outputs: [{ name: 'hidden', dtype: 'float32', shape: ['batch', RETRIEVAL_TOKENS, RETRIEVAL_DIM] }] },
    { name: 'prompt_encoder', file: 'models/prompt_encoder.onnx', standsInFor: 'GiT-large-coco image encoder features (257x1024)', description: '16 patch tokens of smooth random filters + mean token (+ class embedding: shape descriptor, classifier fitted on the training images, softmax-weighted class word vectors), positions, tanh', inputs: [{ name: 'image', dtype: 'float32', shape: img(IMAGE_SIZE) }], outputs: [{ name: 'features', dtype: 'float32', shape: ['batch', PROMPT_TOKENS, PROMPT_DIM] }] },
  ];
  return { bytes, info };
}

// ---------- running ----------

export class EncoderRunner {
  private constructor(private readonly sessions: Record<EncoderName, OrtSession>) {}

  static async create(graphs: EncoderGraphs): Promise<EncoderRunner> {
    const s = {} as Record<EncoderName, OrtSession>;
    for (const n of ENCODER_NAMES) s[n] = await createSession(graphs.bytes[n]);
    return new EncoderRunner(s);
  }

  private async run(name: EncoderName, input: ort.Tensor): Promise<Float32Array> {
    const sess = this.sessions[name];
    const res = await sess.run({ [sess.inputNames[0]]: input });
    return res[sess.outputNames[0]].data as Float32Array;
  }

  /** images: float32 CHW in [0,1], n × [3, IMAGE_SIZE, IMAGE_SIZE] concatenated. */
  image(chw: Float32Array, n: number): Promise<Float32Array> {
    return this.run('image_encoder', new ort.Tensor('float32', chw, [n, 3, IMAGE_SIZE, IMAGE_SIZE]));
  }
  retrieval(chw: Float32Array, n: number): Promise<Float32Array> {
    return this.run('retrieval_encoder', new ort.Tensor('float32', chw, [n, 3, IMAGE_SIZE, IMAGE_SIZE]));
  }
  prompt(chw: Float32Array, n: number): Promise<Float32Array> {
    return this.run('prompt_encoder', new ort.Tensor('float32', chw, [n, 3, IMAGE_SIZE, IMAGE_SIZE]));
  }
  /** low-level images: n × [3, 64, 64]. */
  lowlevel(chw64: Float32Array, n: number): Promise<Float32Array> {
    return this.run('lowlevel_encoder', new ort.Tensor('float32', chw64, [n, 3, LOWLEVEL_SIZE, LOWLEVEL_SIZE]));
  }
  text(tokens: BigInt64Array, n: number): Promise<Float32Array> {
    return this.run('text_encoder', new ort.Tensor('int64', tokens, [n, TEXT_TOKENS]));
  }
  decodeLowlevel(latents: Float32Array): Promise<Float32Array> {
    return this.run('lowlevel_decoder', new ort.Tensor('float32', latents, [1, BLURRY_DIM]));
  }

  async release(): Promise<void> {
    for (const n of ENCODER_NAMES) await this.sessions[n].release();
  }
}
