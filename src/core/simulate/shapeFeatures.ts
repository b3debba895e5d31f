// The object-class ("semantic") part of the demo prompt encoder (GiT image features role). GiT's image
// features name objects because its encoder was pretrained on captioned images; the demo's patch
// tokens alone are a colour thumbnail (docs/simulation.md §12). This adds what a semantic encoder has,
// at toy size:
//   1. a shape descriptor invariant to translation and rotation (Fourier–Mellin style), computed in
//      the ONNX graph: colour-edge magnitude (128x128, pooled to 64x64) and luminance (64x64); the
//      power spectrum of each (|DFT|², translation-invariant); its mean in log-polar bins
//      (SHAPE_RADII log-spaced radii x SHAPE_ANGLES angles over [0, π), DC left out), normalised to
//      sum 1 per map (contrast-invariant); the magnitude of the DFT along the angle axis, first
//      SHAPE_HARMONICS harmonics (rotating the image circularly shifts the angle bins), square root;
//   2. a classifier of the 14 object classes: Gaussian-kernel ridge on the standardised descriptors
//      to multi-hot labels (1 for every class in the scene), fitted at build time on rendered images
//      of the world: its training images (buildWorld), optionally topped up with other scenes from
//      the world's generator (WorldOptions.promptImages: a small test world gets the default demo's
//      1000);
//   3. a class embedding: the class word vectors (SemanticSpace) weighted by softmax(β·scores).
// Measured (docs/simulation.md §12): a linear classifier on the same descriptors confused the simple
// stimuli's bars with towers on some seeds although their nearest training neighbours are bars; the
// kernel classifier is the nearest-neighbour-like fix.
// Ops: MatMul, Conv (conv2d, every attribute), AveragePool, Softmax, Exp, Sqrt, ReduceSum and
// elementwise ops; runs on onnxruntime-web's wasm and WebGPU EPs (test/browser/webgpu-graphs.spec.ts).
import { throwIfAborted } from '../base/errors.ts';
import { conv2d, GraphBuilder } from '../onnx/builder.ts';
import { createSession } from '../onnx/runtime.ts';
import { IMAGE_SIZE, SEMANTIC_DIM } from './dims.ts';
import { runImageBatches } from './imageBatches.ts';
import { renderScene } from './render.ts';
import { trainingScenes } from './stimuli.ts';
import { CLASSES, SemanticSpace, type Scene } from './world.ts';

/** Size of the maps whose spectra are taken (edge magnitude and luminance). */
export const SHAPE_MAP_SIZE = 64;
export const SHAPE_MAPS = 2;
export const SHAPE_RADII = 10;
export const SHAPE_ANGLES = 16;
export const SHAPE_HARMONICS = 9;
/** Length of the shape descriptor. */
export const SHAPE_FEATURES = SHAPE_MAPS * SHAPE_RADII * SHAPE_HARMONICS;
export const N_CLASSES = CLASSES.length;
/** Default corpus size of fitPromptClassifier (= the default demo's training images). */
export const PRETRAIN_IMAGES = 1000;
/** Kernel width: k(z, z') = exp(−‖z − z'‖² / (KERNEL_WIDTH · SHAPE_FEATURES)) on standardised descriptors. */
export const KERNEL_WIDTH = 1;
/** Kernel ridge penalty λ in (K + λI)α = Y. */
export const KERNEL_PENALTY = 1;
/** Softmax inverse temperature on the classifier's scores (multi-hot ridge scores are ~0..1). */
export const CLASS_SOFTMAX_BETA = 12;

/** The fitted classifier baked into the prompt encoder. */
export interface ShapeClassifier {
  /** Corpus mean and 1/sd of each descriptor feature [SHAPE_FEATURES]. */
  mean: Float32Array;
  scale: Float32Array;
  /** Standardised descriptors of the corpus [m, SHAPE_FEATURES] (the kernel's centres). */
  centres: Float32Array;
  /** Dual weights [m, N_CLASSES] and the label means added back [N_CLASSES]. */
  alpha: Float32Array;
  bias: Float32Array;
  /** Corpus size and accuracy on the corpus (top class present in the scene). */
  trainImages: number;
  trainAccuracy: number;
}

/** Log-polar mean-pooling matrix [N·(N/2+1), R·A] over the half-plane kx ∈ [0, N/2] (|F(k)| = |F(−k)|), DC left out. */
function logPolarBins(N: number): Float32Array {
  const H = N / 2 + 1;
  const B = SHAPE_RADII * SHAPE_ANGLES;
  const M = new Float32Array(N * H * B);
  const count = new Float64Array(B);
  const bin = new Int32Array(N * H).fill(-1);
  const logSpan = Math.log(N / 2);
  for (let ky = 0; ky < N; ky++) {
    for (let kx = 0; kx < H; kx++) {
      const fy = ky < N / 2 ? ky : ky - N;
      const r = Math.hypot(kx, fy);
      if (r < 1) continue;
      const rb = Math.floor((Math.log(r) / logSpan) * SHAPE_RADII);
      if (rb >= SHAPE_RADII) continue;
      const a = ((Math.atan2(fy, kx) % Math.PI) + Math.PI) % Math.PI;
      const ab = Math.floor((a / Math.PI) * SHAPE_ANGLES) % SHAPE_ANGLES;
      bin[ky * H + kx] = rb * SHAPE_ANGLES + ab;
      count[rb * SHAPE_ANGLES + ab]++;
    }
  }
  for (let i = 0; i < N * H; i++) if (bin[i] >= 0) M[i * B + bin[i]] = 1 / count[bin[i]];
  return M;
}

/**
 * Adds the shape descriptor of `image` ([b, 3, IMAGE_SIZE, IMAGE_SIZE] in [0, 1]) to `g`; returns the
 * name of a [b, SHAPE_FEATURES] tensor.
 */
export function addShapeDescriptor(g: GraphBuilder, image: string): string {
  const S = IMAGE_SIZE;
  const N = SHAPE_MAP_SIZE;
  const H = N / 2 + 1;
  // Colour edges: central differences along x and y of each channel (6 outputs), at full resolution.
  const D = new Float32Array(6 * 3 * 3 * 3);
  for (let c = 0; c < 3; c++) {
    D[((c * 3 + c) * 3 + 1) * 3 + 0] = -1; // d/dx of channel c
    D[((c * 3 + c) * 3 + 1) * 3 + 2] = 1;
    D[(((3 + c) * 3 + c) * 3 + 0) * 3 + 1] = -1; // d/dy of channel c
    D[(((3 + c) * 3 + c) * 3 + 2) * 3 + 1] = 1;
  }
  const grad = conv2d(g, [image, g.floats(D, [6, 3, 3, 3], 'shape_grad')], [3, 3], { pads: [1, 1, 1, 1] });
  const energy = conv2d(g, [g.op('Mul', [grad, grad]), g.floats(new Float32Array(6).fill(1), [1, 6, 1, 1], 'shape_sum')], [1, 1]);
  // The zero padding would make the image's border an edge: mask the outermost pixels.
  const mask = new Float32Array(S * S);
  for (let y = 1; y < S - 1; y++) for (let x = 1; x < S - 1; x++) mask[y * S + x] = 1;
  const edges = g.op('Mul', [g.op('Sqrt', [energy]), g.floats(mask, [S, S], 'shape_border')]);
  const f = S / N;
  const edges64 = g.op('AveragePool', [edges], { kernel_shape: [f, f], strides: [f, f] });
  const lum64 = conv2d(g, [g.op('AveragePool', [image], { kernel_shape: [f, f], strides: [f, f] }), g.floats([0.299, 0.587, 0.114], [1, 3, 1, 1], 'shape_lum')], [1, 1]);
  const maps = g.op('Concat', [edges64, lum64], { axis: 1 }); // [b, 2, N, N]
  // 2-D DFT as matrix products, right factor on the half-plane kx ∈ [0, N/2]:
  // Re = C X Cₕ − S X Sₕ, Im = C X Sₕ + S X Cₕ (C, S symmetric; the sign of Im does not matter).
  const C = new Float32Array(N * N);
  const Sn = new Float32Array(N * N);
  const Ch = new Float32Array(N * H);
  const Sh = new Float32Array(N * H);
  for (let k = 0; k < N; k++) {
    for (let n = 0; n < N; n++) {
      const t = (2 * Math.PI * ((k * n) % N)) / N;
      C[k * N + n] = Math.cos(t);
      Sn[k * N + n] = Math.sin(t);
      if (n < H) {
        Ch[k * H + n] = Math.cos(t);
        Sh[k * H + n] = Math.sin(t);
      }
    }
  }
  const A = g.op('MatMul', [g.floats(C, [N, N], 'dft_cos'), maps]);
  const B = g.op('MatMul', [g.floats(Sn, [N, N], 'dft_sin'), maps]);
  const cH = g.floats(Ch, [N, H], 'dft_cos_half');
  const sH = g.floats(Sh, [N, H], 'dft_sin_half');
  const re = g.op('Sub', [g.op('MatMul', [A, cH]), g.op('MatMul', [B, sH])]);
  const im = g.op('Add', [g.op('MatMul', [A, sH]), g.op('MatMul', [B, cH])]);
  const power = g.op('Add', [g.op('Mul', [re, re]), g.op('Mul', [im, im])]); // [b, 2, N, H]
  const flat = g.op('Reshape', [power, g.int64s([0, SHAPE_MAPS, N * H])]);
  const bins = SHAPE_RADII * SHAPE_ANGLES;
  const lp = g.op('MatMul', [flat, g.floats(logPolarBins(N), [N * H, bins], 'log_polar')]); // [b, 2, R·A]
  const total = g.op('Add', [g.op('ReduceSum', [lp, g.int64s([-1])], { keepdims: 1 }), g.floats([1e-9], [1])]);
  const lpn = g.op('Reshape', [g.op('Div', [lp, total]), g.int64s([0, SHAPE_MAPS, SHAPE_RADII, SHAPE_ANGLES])]);
  // |DFT| along the angle axis: rotating the image circularly shifts the angle bins.
  const Hc = new Float32Array(SHAPE_ANGLES * SHAPE_HARMONICS);
  const Hs = new Float32Array(SHAPE_ANGLES * SHAPE_HARMONICS);
  for (let a = 0; a < SHAPE_ANGLES; a++) {
    for (let h = 0; h < SHAPE_HARMONICS; h++) {
      Hc[a * SHAPE_HARMONICS + h] = Math.cos((2 * Math.PI * a * h) / SHAPE_ANGLES);
      Hs[a * SHAPE_HARMONICS + h] = Math.sin((2 * Math.PI * a * h) / SHAPE_ANGLES);
    }
  }
  const hr = g.op('MatMul', [lpn, g.floats(Hc, [SHAPE_ANGLES, SHAPE_HARMONICS], 'harm_cos')]);
  const hi = g.op('MatMul', [lpn, g.floats(Hs, [SHAPE_ANGLES, SHAPE_HARMONICS], 'harm_sin')]);
  const mag = g.op('Sqrt', [g.op('Add', [g.op('Mul', [hr, hr]), g.op('Mul', [hi, hi])])]);
  return g.op('Reshape', [g.op('Sqrt', [mag]), g.int64s([0, SHAPE_FEATURES])]);
}

/**
 * Adds the class embedding [b, SEMANTIC_DIM] of a shape descriptor: Σ_k softmax(β·scores)_k e_k over
 * the class word vectors e_k. An unfitted classifier (null) gives equal weights (a constant).
 */
export function addClassEmbedding(g: GraphBuilder, descriptor: string, classifier: ShapeClassifier | null, seed: number): string {
  const sem = new SemanticSpace(seed);
  const E = new Float32Array(N_CLASSES * SEMANTIC_DIM);
  CLASSES.forEach((c, k) => E.set(sem.word(c), k * SEMANTIC_DIM));
  const p = SHAPE_FEATURES;
  const mean = classifier?.mean ?? new Float32Array(p);
  const scale = classifier?.scale ?? new Float32Array(p).fill(1);
  const centres = classifier?.centres ?? new Float32Array(p);
  const alpha = classifier?.alpha ?? new Float32Array(N_CLASSES);
  const bias = classifier?.bias ?? new Float32Array(N_CLASSES);
  const m = centres.length / p;
  const z = g.op('Mul', [g.op('Sub', [descriptor, g.floats(mean, [p], 'shape_mean')]), g.floats(scale, [p], 'shape_scale')]);
  // ‖z − c‖² = ‖z‖² − 2 z·c + ‖c‖², kernel exp(−‖z − c‖² / (w·p))
  const Ct = new Float32Array(p * m);
  const cNorm = new Float32Array(m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < p; j++) {
      const v = centres[i * p + j];
      Ct[j * m + i] = -2 * v;
      cNorm[i] += v * v;
    }
  }
  const zNorm = g.op('ReduceSum', [g.op('Mul', [z, z]), g.int64s([-1])], { keepdims: 1 }); // [b, 1]
  const dist = g.op('Add', [g.op('Add', [g.op('MatMul', [z, g.floats(Ct, [p, m], 'class_centres')]), zNorm]), g.floats(cNorm, [m], 'class_centre_norms')]);
  const kern = g.op('Exp', [g.op('Mul', [dist, g.floats([-1 / (KERNEL_WIDTH * p)], [1], 'kernel_width')])]);
  const scores = g.op('Add', [g.op('MatMul', [kern, g.floats(alpha, [m, N_CLASSES], 'class_alpha')]), g.floats(bias, [N_CLASSES], 'class_bias')]);
  const probs = g.op('Softmax', [g.op('Mul', [scores, g.floats([CLASS_SOFTMAX_BETA], [1], 'class_beta')])], { axis: -1 });
  return g.op('MatMul', [probs, g.floats(E, [N_CLASSES, SEMANTIC_DIM], 'class_words')]);
}

/** Graph image [b, 3, IMAGE_SIZE, IMAGE_SIZE] -> descriptor [b, SHAPE_FEATURES] (to fit the classifier). */
export function shapeDescriptorGraph(): Uint8Array {
  const g = new GraphBuilder('shape_descriptor');
  g.input('image', 'float32', ['batch', 3, IMAGE_SIZE, IMAGE_SIZE]).output('descriptor', 'float32', ['batch', SHAPE_FEATURES]);
  g.op('Identity', [addShapeDescriptor(g, 'image')], undefined, 'descriptor');
  return g.toBytes();
}

/** Descriptors [n, SHAPE_FEATURES] of uint8 HWC images, run through shapeDescriptorGraph in batches. */
export async function shapeDescriptors(images: Uint8Array[], signal?: AbortSignal): Promise<Float32Array> {
  const session = await createSession(shapeDescriptorGraph());
  try {
    const out = new Float32Array(images.length * SHAPE_FEATURES);
    await runImageBatches(session, images, (res, s) => out.set(res.descriptor.data as Float32Array, s * SHAPE_FEATURES), { signal });
    return out;
  } finally {
    await session.release();
  }
}

/** Classes present in a scene (the multi-hot target's ones). */
function presentClasses(scene: Scene): Set<number> {
  return new Set(scene.objects.map((o) => CLASSES.indexOf(o.cls)));
}

/** Solves (A) X = B in place for symmetric positive definite A [n, n] (Cholesky), B [n, q]; returns X. */
function solveSpd(A: Float64Array, n: number, B: Float64Array, q: number, signal?: AbortSignal): Float64Array {
  const L = A; // lower triangle overwritten with the factor
  for (let j = 0; j < n; j++) {
    if (j % 64 === 0) throwIfAborted(signal);
    let d = L[j * n + j];
    for (let k = 0; k < j; k++) d -= L[j * n + k] ** 2;
    if (!(d > 0)) throw new Error(`solveSpd: matrix not positive definite at row ${j}`);
    const ljj = Math.sqrt(d);
    L[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = L[i * n + j];
      const ri = i * n;
      const rj = j * n;
      for (let k = 0; k < j; k++) s -= L[ri + k] * L[rj + k];
      L[ri + j] = s / ljj;
    }
  }
  const X = Float64Array.from(B);
  for (let c = 0; c < q; c++) {
    for (let i = 0; i < n; i++) {
      let s = X[i * q + c];
      for (let k = 0; k < i; k++) s -= L[i * n + k] * X[k * q + c];
      X[i * q + c] = s / L[i * n + i];
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = X[i * q + c];
      for (let k = i + 1; k < n; k++) s -= L[k * n + i] * X[k * q + c];
      X[i * q + c] = s / L[i * n + i];
    }
  }
  return X;
}

/**
 * Fits the classifier: descriptors standardised with the corpus mean/sd; Gaussian-kernel ridge
 * (K + λI)α = Y − ȳ to multi-hot targets (1 for every class in the scene); scores k(z)·α + ȳ.
 */
export function fitShapeClassifier(descriptors: Float32Array, scenes: Scene[], signal?: AbortSignal): ShapeClassifier {
  const n = scenes.length;
  const p = SHAPE_FEATURES;
  if (descriptors.length !== n * p) throw new RangeError(`fitShapeClassifier: ${descriptors.length} values for ${n} scenes x ${p}`);
  const mean = new Float32Array(p);
  const scale = new Float32Array(p);
  for (let j = 0; j < p; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += descriptors[i * p + j];
    const m = s / n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (descriptors[i * p + j] - m) ** 2;
    const sd = Math.sqrt(v / n);
    mean[j] = m;
    scale[j] = sd > 1e-9 ? 1 / sd : 0;
  }
  const centres = new Float32Array(n * p);
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) centres[i * p + j] = (descriptors[i * p + j] - mean[j]) * scale[j];
  const K = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k <= i; k++) {
      let d = 0;
      for (let j = 0; j < p; j++) d += (centres[i * p + j] - centres[k * p + j]) ** 2;
      K[i * n + k] = K[k * n + i] = Math.exp(-d / (KERNEL_WIDTH * p));
    }
  }
  const Kfit = Float64Array.from(K);
  for (let i = 0; i < n; i++) Kfit[i * n + i] += KERNEL_PENALTY;
  const bias = new Float32Array(N_CLASSES);
  const Y = new Float64Array(n * N_CLASSES);
  scenes.forEach((s, i) => presentClasses(s).forEach((k) => (Y[i * N_CLASSES + k] = 1)));
  for (let i = 0; i < n; i++) for (let k = 0; k < N_CLASSES; k++) bias[k] += Y[i * N_CLASSES + k] / n;
  for (let i = 0; i < n; i++) for (let k = 0; k < N_CLASSES; k++) Y[i * N_CLASSES + k] -= bias[k];
  const alpha64 = solveSpd(Kfit, n, Y, N_CLASSES, signal);
  const alpha = Float32Array.from(alpha64);
  let right = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestScore = -Infinity;
    for (let k = 0; k < N_CLASSES; k++) {
      let acc = bias[k];
      for (let r = 0; r < n; r++) acc += K[i * n + r] * alpha64[r * N_CLASSES + k];
      if (acc > bestScore) [best, bestScore] = [k, acc];
    }
    if (presentClasses(scenes[i]).has(best)) right++;
  }
  return { mean, scale, centres, alpha, bias, trainImages: n, trainAccuracy: right / n };
}

/**
 * The prompt encoder's classifier for a world seed, fitted on `images` images of the world (default
 * PRETRAIN_IMAGES): its training images (`training`, at most `images` of them), topped up when there
 * are fewer with scenes from the world's generator on their own stream ('prompt-pretrain'; held-out
 * complex scenes skipped as for training), rendered here.
 */
export async function fitPromptClassifier(
  seed: number,
  opts: { training?: { scenes: Scene[]; images: Uint8Array[] }; images?: number; signal?: AbortSignal } = {},
): Promise<ShapeClassifier> {
  const total = opts.images ?? PRETRAIN_IMAGES;
  const own = Math.min(total, opts.training?.scenes.length ?? 0);
  const scenes = opts.training ? opts.training.scenes.slice(0, own) : [];
  const images = opts.training ? opts.training.images.slice(0, own) : [];
  const extra = trainingScenes(seed, total - own, 'prompt-pretrain');
  for (let i = 0; i < extra.length; i++) {
    if (i % 100 === 0) throwIfAborted(opts.signal);
    scenes.push(extra[i]);
    images.push(renderScene(extra[i]));
  }
  return fitShapeClassifier(await shapeDescriptors(images, opts.signal), scenes, opts.signal);
}
