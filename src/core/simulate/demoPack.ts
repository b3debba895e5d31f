// The demo model pack: small, real ONNX graphs FITTED to the simulated world (docs/simulation.md,
// "Demo model pack"). Every stage plays its MIRAGE role at toy size, and the diffusion stages are
// exact, not learned approximations:
// - latents are PCA coefficients of the training images at 64x64 in one global unit (mean variance 1
//   over the 64 components, NOT whitened: coarse components keep their large variance, so they survive
//   img2img's noise): the first 16 are stage C's latent, all 64 are stage B's, stage A decodes them linearly;
// - stage C and B are exact denoisers of MIXTURE priors over the training scenes' latents; stage C weighs
//   the scenes by fitted Gaussian conditionals of their coarse latents, of their oriented energy on a
//   4x4 grid (a thin edge's angle, which the coarse latents lose) and of their content (classes,
//   background) — docs/simulation.md §12; the corpus is the world's training scenes plus plain-background
//   single-object scenes (a bar on grey is then in the generator's range, §4.2); the text below
//   describes the Gaussian conditional of the coarse latents (once the whole prior, now the weights):
// - the conditional prior of stage C is Gaussian in that space, mean fitted by ridge from the
//   conditioning MIRAGE feeds it (0.5·image embedding, 0.5·text embedding at textStrength 0.5, the
//   unconditional tensors being zeros), residual variance per dimension measured on held-out images;
//   an all-zero conditioning means "unconditional" (mean 0, the training variance), as condition dropout
//   teaches a real diffusion model. For x_t = a·x0 + b·ε that prior's optimal denoiser is exact:
//     x0̂ = μ + (aλ/(a²λ + b²))(x_t − aμ),   ε̂ = (x_t − a·x0̂)/b,
//   with a² recovered in-graph from the timestep input r (inverse of CosineTNoiseCond);
// - stage B keeps stage C's 16 coefficients (tight prior around them, variance 1e-3) and samples the
//   48 finer ones from their prior (PCA components are linearly uncorrelated, so nothing finer is
//   predictable linearly from the coarse ones);
// - the caption decoder reads the prompt features out linearly into three vocabulary slots (first
//   object's colour and class, background) of a fixed template "{article} {colour} {class} on
//   {background}", the article being "a" or "an" after the colour the readout will choose next.
// The low-level decoder and the image encoder are the simulation's own graphs (lowlevel_decoder,
// retrieval_encoder), reused as they are.
import { AbortError } from '../base/errors.ts';
import type { ShardSink } from '../bundle/writer.ts';
import { chooseAlpha, RidgePath, type RidgeSolution } from '../decode/ridge.ts';
import { symmetricEigen } from '../decode/eigen.ts';
import { gemm, gemmNT } from '../decode/linalg.ts';
import { GraphBuilder } from '../onnx/builder.ts';
import {
  IMAGE_EMBED_DIM,
  IMAGE_SIZE,
  LOWLEVEL_SIZE,
  PROMPT_DIM,
  PROMPT_TOKENS,
  RETRIEVAL_DIM,
  RETRIEVAL_TOKENS,
  TEXT_DIM,
  TEXT_TOKENS,
  HEAD_SHAPES,
} from './dims.ts';
import { BOS, EOS, EncoderRunner, tokenize, vocabulary, type EncoderGraphs } from './encoders.ts';
import { downsample, renderScene, toCHW } from './render.ts';
import { orientedEnergyGrid } from './imageStats.ts';
import { plainScenes, trainingScenes } from './stimuli.ts';
import { BACKGROUNDS, CLASSES, COLOUR_NAMES, caption as sceneCaption, indefiniteArticle, type Scene } from './world.ts';
import { matrix64 } from '../tensor/matrix.ts';
import { ModelPackWriter, type ModelPackManifest, type StageSpec } from '../generate/modelPack.ts';
import { COSINE_S } from '../generate/sampler.ts';
import type { StepProgress } from '../base/progress.ts';

/**
 * Stage C's orientation descriptor of a scene: its oriented energy (0°, 45°, 90°, 135°) on a 4×4 grid,
 * the layout in which the demo image encoder's energy branch carries it (docs/simulation.md §7).
 */
const ORIENT_CELLS = 4;
const ORIENT_DIM = ORIENT_CELLS * ORIENT_CELLS * 4;
/**
 * Stage C's content descriptor of a scene: which object classes it holds (1 each) and its background
 * (one-hot) — what a caption and a CLIP embedding say first, and what neither the coarse latents nor
 * the edge energy tell apart (a bar from a tower or a fish at the same angle; docs/simulation.md §4.2).
 */
const CONTENT_DIM = CLASSES.length + BACKGROUNDS.length;
function sceneContent(sc: Scene): Float64Array {
  const out = new Float64Array(CONTENT_DIM);
  for (const o of sc.objects) out[CLASSES.indexOf(o.cls)] = 1;
  out[CLASSES.length + BACKGROUNDS.indexOf(sc.background)] = 1;
  return out;
}
/** Coarse (stage C) and total (stage B) PCA components. */
export const DEMO_C_DIM = 16;
export const DEMO_B_DIM = 64;
/**
 * Spread of each mixture component of the priors, as a fraction of the component's (latent
 * dimension's) prior variance: small, so that as noise falls the denoiser snaps to one training
 * scene (docs/simulation.md §12, "Mixture prior"), yet not zero, so it blends near-ties smoothly.
 */
export const DEMO_MIXTURE_SPREAD = 0.02;
/** At most this many of the world's training scenes are the mixture's components (and stage A's detail table), besides the plain scenes. */
export const DEMO_MIXTURE_MAX = 800;
/**
 * Plain-background single-object scenes (stimuli.ts plainScenes) in the generator's corpus, per
 * training image: a real generator's training set holds simple graphics that no fMRI training image
 * shows, and without them a bar on grey is outside the demo generator's range (docs/simulation.md §4.2).
 */
export const DEMO_PLAIN_FRACTION = 0.25;
/** Caption template: positions of fixed words, of the article and of the three slots. */
export const DEMO_TEMPLATE: (string | 'article' | 'colour' | 'class' | 'background')[] = ['article', 'colour', 'class', 'on', 'background'];
const SLOT_WORDS = { colour: COLOUR_NAMES as readonly string[], class: CLASSES as readonly string[], background: BACKGROUNDS as readonly string[] };
const SLOTS = ['colour', 'class', 'background'] as const;
const CAPTION_POSITIONS = 24;

export interface DemoPackOptions {
  seed: number;
  /** The simulation's encoder graphs (buildEncoderGraphs), the same ones the bundle was built with. */
  encoders: EncoderGraphs;
  /** Training images to fit on (rendered from the world's training scenes); default 800. */
  trainImages?: number;
  /**
   * The world's training set, already rendered and encoded (simulate's World: trainScenes,
   * trainImages, trainFeatures). Without it, training scenes are rendered and encoded here.
   */
  training?: { scenes: Scene[]; images: Uint8Array[]; features: { image: Float32Array; text: Float32Array; prompt: Float32Array } };
  /** Plain-background single-object scenes added to the corpus; default round(DEMO_PLAIN_FRACTION × training images). */
  plainScenes?: number;
  /** Folder prefix inside the sink, e.g. "modelpack/". */
  prefix?: string;
  /** Fixed creation time in the pack's provenance (reproducible builds); default: now. */
  createdAt?: string;
  signal?: AbortSignal;
  onProgress?: StepProgress;
}

/** What the fit measured (also written to the pack's provenance notes). */
export interface DemoPackReport {
  trainImages: number;
  /** Plain-background single-object scenes in the corpus (fitted on and mixture components, before the training scenes). */
  plainScenes: number;
  /** Fraction of pixel variance (64x64) the 16 / 64 PCA components explain. */
  explainedC: number;
  explainedB: number;
  /** Held-out R² of the conditional mean (stage C coefficients from image + text embeddings). */
  priorR2: number;
  priorAlpha: number;
  /** Held-out R² of the orientation readout (a scene's oriented energy per angle and 4×4 cell, from the same conditioning). */
  orientationR2: number;
  /** Held-out R² of the content readout (object classes present, background). */
  contentR2: number;
  /** Held-out accuracy of each caption slot readout. */
  captionAccuracy: Record<(typeof SLOTS)[number], number>;
}

const f32 = (a: ArrayLike<number>) => Float32Array.from(a);

/** Builds and writes the demo pack; returns the manifest and what the fit measured. */
export async function buildDemoModelPack(sink: ShardSink, opts: DemoPackOptions): Promise<{ manifest: ModelPackManifest; report: DemoPackReport }> {
  const nWorld = Math.min(opts.trainImages ?? 800, opts.training?.scenes.length ?? Infinity);
  const nPlain = opts.plainScenes ?? Math.round(DEMO_PLAIN_FRACTION * nWorld);
  if (!Number.isInteger(nPlain) || nPlain < 0) throw new RangeError(`buildDemoModelPack: plainScenes must be a non-negative integer, got ${nPlain}`);
  const report = (d: number, label: string) => opts.onProgress?.(d, 6, label);
  report(0, 'rendering training images');
  const worldScenes = opts.training ? opts.training.scenes.slice(0, nWorld) : trainingScenes(opts.seed ^ 0x5eed, nWorld);
  const worldImages = opts.training ? opts.training.images.slice(0, nWorld) : worldScenes.map((s) => renderScene(s, IMAGE_SIZE));
  // The corpus: the plain scenes first, then the world's training scenes, so the fits' held-out
  // tail (last 20%) and the reported R² are the world's scenes'.
  const plain = plainScenes(opts.seed, nPlain);
  const scenes = [...plain, ...worldScenes];
  const images = [...plain.map((s) => renderScene(s, IMAGE_SIZE)), ...worldImages];
  const n = scenes.length;
  const runner = await EncoderRunner.create(opts.encoders);
  try {
    // Features of the corpus, computed by the simulation's encoders (the "true" embeddings).
    report(1, 'encoding training images');
    const d64 = 3 * LOWLEVEL_SIZE * LOWLEVEL_SIZE;
    const pix = new Float64Array(n * d64);
    for (let i = 0; i < n; i++) {
      pix.set(toCHW(downsample(images[i], IMAGE_SIZE, IMAGE_SIZE / LOWLEVEL_SIZE), LOWLEVEL_SIZE), i * d64);
    }
    const plainFeat = await encodeScenes(runner, plain, images.slice(0, nPlain), opts.signal);
    const worldFeat = opts.training
      ? {
          image: opts.training.features.image.subarray(0, nWorld * IMAGE_EMBED_DIM),
          text: opts.training.features.text.subarray(0, nWorld * TEXT_TOKENS * TEXT_DIM),
          prompt: opts.training.features.prompt.subarray(0, nWorld * PROMPT_TOKENS * PROMPT_DIM),
        }
      : await encodeScenes(runner, worldScenes, worldImages, opts.signal);
    const stack = (a: Float32Array, b: Float32Array) => {
      const out = new Float32Array(a.length + b.length);
      out.set(a);
      out.set(b, a.length);
      return out;
    };
    const imgEmb = stack(plainFeat.image, worldFeat.image);
    const txtEmb = stack(plainFeat.text, worldFeat.text);
    const prompt = stack(plainFeat.prompt, worldFeat.prompt);

    // PCA of the 64x64 training images through the n×n Gram matrix.
    report(2, 'PCA of training images');
    const pca = pcaByGram(pix, n, d64, DEMO_B_DIM, opts.signal);
    // Latent z [n, 64] = PCA scores in one global unit (mean variance 1 over the 64 components),
    // NOT whitened per component: coarse components keep their large variance (SNR), so the low-level
    // image's coarse layout survives img2img's noise as it does in a real latent diffusion model.
    const lat = latentScale(pca);
    const z = new Float64Array(n * DEMO_B_DIM);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < DEMO_B_DIM; k++) z[i * DEMO_B_DIM + k] = pca.scores[i * DEMO_B_DIM + k] / lat.unit;
    }

    // Conditional mean of stage C's coefficients: ridge from MIRAGE's mixed conditioning.
    report(3, 'fitting the conditional prior');
    const condDim = IMAGE_EMBED_DIM + TEXT_TOKENS * TEXT_DIM;
    const X = new Float64Array(n * condDim);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < IMAGE_EMBED_DIM; j++) X[i * condDim + j] = 0.5 * imgEmb[i * IMAGE_EMBED_DIM + j];
      for (let j = 0; j < TEXT_TOKENS * TEXT_DIM; j++) X[i * condDim + IMAGE_EMBED_DIM + j] = 0.5 * txtEmb[i * TEXT_TOKENS * TEXT_DIM + j];
    }
    const Yc = new Float64Array(n * DEMO_C_DIM);
    for (let i = 0; i < n; i++) for (let k = 0; k < DEMO_C_DIM; k++) Yc[i * DEMO_C_DIM + k] = z[i * DEMO_B_DIM + k];
    const prior = fitRidgeHeldOut(X, Yc, n, condDim, DEMO_C_DIM, opts.signal);
    // Orientation readout: a scene's oriented energy per angle on a 4×4 grid from the same conditioning.
    // The coarse PCA coefficients carry layout and colour but hardly a thin edge's angle; the image
    // embedding's oriented-energy branch does (docs/simulation.md §12, "Orientation").
    const orient = new Float64Array(n * ORIENT_DIM);
    for (let i = 0; i < n; i++) orient.set(orientedEnergyGrid(images[i], ORIENT_CELLS), i * ORIENT_DIM);
    const orientFit = fitRidgeHeldOut(X, orient, n, condDim, ORIENT_DIM, opts.signal);
    const content = new Float64Array(n * CONTENT_DIM);
    for (let i = 0; i < n; i++) content.set(sceneContent(scenes[i]), i * CONTENT_DIM);
    const contentFit = fitRidgeHeldOut(X, content, n, condDim, CONTENT_DIM, opts.signal);

    // Caption slots: ridge from the flattened prompt features to one-hot slot words.
    report(4, 'fitting the caption readout');
    const vocab = vocabulary();
    const vIndex = new Map(vocab.map((w, i) => [w, i]));
    const slotCols = SLOTS.map((s) => SLOT_WORDS[s].length);
    const nSlotOut = slotCols.reduce((a, b) => a + b, 0);
    const Ys = new Float64Array(n * nSlotOut);
    const slotOf = (sc: Scene, s: (typeof SLOTS)[number]) =>
      s === 'background' ? sc.background : s === 'colour' ? sc.objects[0].colour : sc.objects[0].cls;
    for (let i = 0; i < n; i++) {
      let off = 0;
      SLOTS.forEach((s, si) => {
        Ys[i * nSlotOut + off + SLOT_WORDS[s].indexOf(slotOf(scenes[i], s))] = 1;
        off += slotCols[si];
      });
    }
    const pDim = PROMPT_TOKENS * PROMPT_DIM;
    const capFit = fitSlotReadouts(Float64Array.from(prompt), Ys, n, pDim, slotCols, opts.signal);
    const captionAccuracy = {} as Record<(typeof SLOTS)[number], number>;
    {
      let off = 0;
      SLOTS.forEach((s, si) => {
        let correct = 0;
        for (const i of capFit.heldOut) {
          let arg = 0;
          for (let c = 1; c < slotCols[si]; c++) if (capFit.pred(i, off + c) > capFit.pred(i, off + arg)) arg = c;
          if (Ys[i * nSlotOut + off + arg] === 1) correct++;
        }
        captionAccuracy[s] = correct / capFit.heldOut.length;
        off += slotCols[si];
      });
    }

    // The mixture's components: the training scenes' latents and, for stage A, what 64 PCA
    // components lose of each image (its edges and small objects).
    const mix = mixtureComponents(pix, pca, z, n, lat, nPlain + Math.min(nWorld, DEMO_MIXTURE_MAX));
    const scene = {
      prior,
      descriptors: [
        { ...orientFit, table: orient.subarray(0, mix.k * ORIENT_DIM), dims: ORIENT_DIM },
        { ...contentFit, table: content.subarray(0, mix.k * CONTENT_DIM), dims: CONTENT_DIM },
      ],
    };

    report(5, 'writing graphs');
    const w = new ModelPackWriter(sink, opts.prefix ?? '');
    const files = {
      lowLevelDecoder: await w.addFile('models/lowlevel_decoder.onnx', opts.encoders.bytes.lowlevel_decoder),
      latentEncoder: await w.addFile('models/pca_encoder.onnx', pcaEncoderGraph(pca, lat.unit)),
      priorDenoiser: await w.addFile('models/prior_c.onnx', priorGraph(scene, lat.variance, mix)),
      latentDecoder: await w.addFile('models/decoder_b.onnx', decoderGraph(lat.variance, mix)),
      pixelDecoder: await w.addFile('models/pca_decoder.onnx', pcaDecoderGraph({ ...pca, sigma: new Float64Array(DEMO_B_DIM).fill(lat.unit) }, mix)),
      imageEncoder: await w.addFile('models/retrieval_encoder.onnx', opts.encoders.bytes.retrieval_encoder),
      captionDecoder: await w.addFile('models/caption_readout.onnx', captionGraph(capFit, vocab, vIndex, slotCols)),
    };
    const uImg = await w.addNpy('cond/uncond_clip_img.npy', new Float32Array(IMAGE_EMBED_DIM), [1, IMAGE_EMBED_DIM]);
    const uText = await w.addNpy('cond/uncond_clip_text.npy', new Float32Array(TEXT_TOKENS * TEXT_DIM), [TEXT_TOKENS, TEXT_DIM]);
    const uPool = await w.addNpy('cond/uncond_clip_text_pooled.npy', new Float32Array(TEXT_DIM), [1, TEXT_DIM]);
    const vocabPath = await w.addJson('vocab.json', vocab);
    const rep: DemoPackReport = {
      trainImages: nWorld,
      plainScenes: nPlain,
      explainedC: pca.explained(DEMO_C_DIM),
      explainedB: pca.explained(DEMO_B_DIM),
      priorR2: prior.r2,
      priorAlpha: prior.sol.alpha,
      orientationR2: orientFit.r2,
      contentR2: contentFit.r2,
      captionAccuracy,
    };
    const sp = (name: string, shape: (number | string)[], dtype: 'float32' | 'int64' = 'float32') => ({ name, dtype, shape });
    const img = (s: number) => ['batch', 3, s, s];
    const stages: Record<keyof ModelPackManifest['stages'], StageSpec> = {
      lowLevelDecoder: {
        file: files.lowLevelDecoder, kind: 'simulated', role: 'VDVAE decoder role: the simulation\'s DCT low-level decoder (384 latents -> 64x64)',
        inputs: { latents: sp('latents', [1, HEAD_SHAPES.blurry[0]]) }, outputs: { px: sp('image', [1, 3, LOWLEVEL_SIZE, LOWLEVEL_SIZE]) },
        settings: { pixelLayout: 'nchw', outputRange: [0, 1] },
      },
      latentEncoder: {
        file: files.latentEncoder, kind: 'simulated', role: 'EfficientNet encoder role: 64x64 image -> first 16 whitened PCA coefficients',
        inputs: { images: sp('images', img(LOWLEVEL_SIZE)) }, outputs: { latents: sp('latents', ['batch', DEMO_C_DIM]) },
        settings: { inputSize: LOWLEVEL_SIZE, mean: [0, 0, 0], std: [1, 1, 1] },
      },
      priorDenoiser: {
        file: files.priorDenoiser, kind: 'simulated', role: 'Stage C role: exact mixture-prior denoiser over the training scenes\' 16 coarse PCA coefficients, scenes weighted by their coarse latents, oriented energy and content (classes, background) given the image + text embeddings',
        inputs: {
          x: sp('x', ['batch', DEMO_C_DIM]), r: sp('r', ['batch']),
          clip_text: sp('clip_text', ['batch', TEXT_TOKENS, TEXT_DIM]), clip_text_pooled: sp('clip_text_pooled', ['batch', 1, TEXT_DIM]),
          clip_img: sp('clip_img', ['batch', 1, IMAGE_EMBED_DIM]),
        },
        outputs: { pred: sp('pred', ['batch', DEMO_C_DIM]) },
        settings: {},
      },
      latentDecoder: {
        file: files.latentDecoder, kind: 'simulated', role: 'Stage B role: exact denoiser over all 64 PCA coefficients, the first 16 tied to stage C\'s output',
        inputs: { x: sp('x', ['batch', DEMO_B_DIM]), r: sp('r', ['batch']), effnet: sp('effnet', ['batch', DEMO_C_DIM]), clip: sp('clip', ['batch', 1, TEXT_DIM]) },
        outputs: { pred: sp('pred', ['batch', DEMO_B_DIM]) },
        settings: {},
      },
      pixelDecoder: {
        file: files.pixelDecoder, kind: 'simulated', role: 'Stage A role: linear PCA decoding of 64 coefficients -> 64x64, bilinear x2 -> 128x128',
        inputs: { latents: sp('latents', ['batch', DEMO_B_DIM]) }, outputs: { images: sp('images', img(IMAGE_SIZE)) },
        settings: {},
      },
      imageEncoder: {
        file: files.imageEncoder, kind: 'simulated', role: 'CLIP ViT-L/14 last-hidden-state role: the simulation\'s retrieval encoder (17x64, tokens L2-normalised)',
        inputs: { pixel_values: sp('image', img(IMAGE_SIZE)) }, outputs: { last_hidden_state: sp('hidden', ['batch', RETRIEVAL_TOKENS, RETRIEVAL_DIM]) },
        settings: { inputSize: IMAGE_SIZE, mean: [0, 0, 0], std: [1, 1, 1] },
      },
      captionDecoder: {
        file: files.captionDecoder, kind: 'simulated', role: 'GiT text decoder role: linear readout of prompt features into a caption template',
        inputs: { prompt_features: sp('prompt_features', ['batch', PROMPT_TOKENS, PROMPT_DIM]), input_ids: sp('input_ids', ['batch', 'seq'], 'int64') },
        outputs: { logits: sp('logits', ['batch', 'seq', vocab.length]) },
        settings: { bosTokenId: BOS, eosTokenId: EOS, template: DEMO_TEMPLATE },
      },
    };
    const manifest = await w.finish({
      name: 'demo model pack (simulated world)',
      description: 'Small ONNX graphs fitted to the simulated NSD-Imagery world; see docs/simulation.md "Demo model pack".',
      provenance: {
        kind: 'simulated',
        command: `buildDemoModelPack(seed=${opts.seed}, trainImages=${nWorld}, plainScenes=${nPlain})`,
        createdAt: opts.createdAt ?? new Date().toISOString(),
        notes: `fit: ${JSON.stringify(rep)}`,
      },
      stages,
      unconditional: { clipImg: uImg, clipText: uText, clipTextPooled: uPool },
      vocab: vocabPath,
      imageSize: IMAGE_SIZE,
      headShapes: {
        image: [...HEAD_SHAPES.image], text: [...HEAD_SHAPES.text], blurry: [...HEAD_SHAPES.blurry],
        retrieval: [...HEAD_SHAPES.retrieval], prompt: [...HEAD_SHAPES.prompt],
      },
    });
    report(6, 'done');
    return { manifest, report: rep };
  } finally {
    await runner.release();
  }
}

// ---------------------------------------------------------------------------------------------
// Fitting helpers.

/** The simulation's image, text and prompt features of rendered scenes (their caption for the text), in chunks. */
async function encodeScenes(runner: EncoderRunner, scenes: Scene[], images: Uint8Array[], signal?: AbortSignal) {
  const n = scenes.length;
  const out = {
    image: new Float32Array(n * IMAGE_EMBED_DIM),
    text: new Float32Array(n * TEXT_TOKENS * TEXT_DIM),
    prompt: new Float32Array(n * PROMPT_TOKENS * PROMPT_DIM),
  };
  const chunk = 100;
  for (let i0 = 0; i0 < n; i0 += chunk) {
    if (signal?.aborted) throw new AbortError();
    const m = Math.min(chunk, n - i0);
    const chw = new Float32Array(m * 3 * IMAGE_SIZE * IMAGE_SIZE);
    const toks = new BigInt64Array(m * TEXT_TOKENS);
    for (let k = 0; k < m; k++) {
      toCHW(images[i0 + k], IMAGE_SIZE, chw, k * 3 * IMAGE_SIZE * IMAGE_SIZE);
      toks.set(tokenize(sceneCaption(scenes[i0 + k])), k * TEXT_TOKENS);
    }
    out.image.set(await runner.image(chw, m), i0 * IMAGE_EMBED_DIM);
    out.text.set(await runner.text(toks, m), i0 * TEXT_TOKENS * TEXT_DIM);
    out.prompt.set(await runner.prompt(chw, m), i0 * PROMPT_TOKENS * PROMPT_DIM);
  }
  return out;
}

interface Pca {
  dim: number;
  k: number;
  mean: Float64Array;
  /** Unit principal directions, rows [k, dim]. */
  basis: Float64Array;
  /** Per-component standard deviation of the scores. */
  sigma: Float64Array;
  /** Scores [n, k] (unwhitened). */
  scores: Float64Array;
  explained: (k: number) => number;
}

function pcaByGram(X: Float64Array, n: number, d: number, k: number, signal?: AbortSignal): Pca {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += X[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const Xc = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) Xc[i * d + j] = X[i * d + j] - mean[j];
  const G = gemmNT(Xc, n, d, Xc, n, signal, true);
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) G[j * n + i] = G[i * n + j];
  const eig = symmetricEigen(G, n, { signal });
  let total = 0;
  for (let i = 0; i < n; i++) total += Math.max(0, eig.values[i]);
  // At most n components exist (fewer training images than components: the rest stay zero).
  const kk = Math.min(k, n);
  const E = eig.vectors.subarray(0, kk * n); // rows = eigenvectors
  const raw = gemm(E, kk, n, Xc, d, signal); // [kk, d] = Eᵀ Xc, row norm sqrt(λ)
  const basis = new Float64Array(k * d);
  const sigma = new Float64Array(k);
  const scores = new Float64Array(n * k);
  for (let c = 0; c < kk; c++) {
    const lam = Math.max(eig.values[c], 1e-12);
    const s = 1 / Math.sqrt(lam);
    for (let j = 0; j < d; j++) basis[c * d + j] = raw[c * d + j] * s;
    sigma[c] = Math.sqrt(lam / (n - 1));
    for (let i = 0; i < n; i++) scores[i * k + c] = Math.sqrt(lam) * eig.vectors[c * n + i];
  }
  const explained = (m: number) => {
    let s = 0;
    for (let c = 0; c < Math.min(m, n); c++) s += Math.max(0, eig.values[c]);
    return s / total;
  };
  return { dim: d, k, mean, basis, sigma, scores, explained };
}

/** Ridge with the penalty chosen on a held-out 20%; returns the solution fitted on the first 80%. */
function fitRidgeHeldOut(X: Float64Array, Y: Float64Array, n: number, p: number, q: number, signal?: AbortSignal) {
  const nTrain = Math.floor(n * 0.8);
  const Xt = matrix64(nTrain, p, X.slice(0, nTrain * p));
  const Yt = matrix64(nTrain, q, Y.slice(0, nTrain * q));
  const Xv = matrix64(n - nTrain, p, X.slice(nTrain * p));
  const Yv = matrix64(n - nTrain, q, Y.slice(nTrain * q));
  const path = new RidgePath(Xt, Yt, { signal });
  // Penalties relative to the data's scale (mean squared row norm).
  let scale = 0;
  for (let i = 0; i < Xt.data.length; i++) scale += Xt.data[i] ** 2;
  scale /= nTrain;
  const grid = [1e-3, 1e-2, 3e-2, 0.1, 0.3, 1, 3, 10].map((g) => g * scale);
  const { alpha, scores } = chooseAlpha(path, Xv, Yv, grid);
  const sol = path.solve(alpha);
  const predRow = (i: number, o: number) => {
    let acc = sol.intercept[o];
    for (let j = 0; j < p; j++) acc += X[i * p + j] * sol.coef.data[o * p + j];
    return acc;
  };
  const heldOut = Array.from({ length: n - nTrain }, (_, i) => nTrain + i);
  const residualVar = new Float64Array(q);
  for (const i of heldOut) for (let o = 0; o < q; o++) residualVar[o] += (Y[i * q + o] - predRow(i, o)) ** 2;
  for (let o = 0; o < q; o++) residualVar[o] /= heldOut.length;
  return { sol, residualVar, r2: Math.max(...scores), heldOut, pred: predRow };
}

/**
 * Caption slot readouts: one ridge per slot (colour, class, background), each with its own penalty
 * chosen on the held-out 20% (a shared penalty let the slots with the strongest features — background,
 * class — set it for colour too), stacked into one coefficient table [nSlotOut, p].
 */
function fitSlotReadouts(X: Float64Array, Ys: Float64Array, n: number, p: number, slotCols: number[], signal?: AbortSignal) {
  const q = slotCols.reduce((a, b) => a + b, 0);
  const coef = new Float64Array(q * p);
  const intercept = new Float64Array(q);
  const alphas: number[] = [];
  const fits: ReturnType<typeof fitRidgeHeldOut>[] = [];
  let off = 0;
  for (const cols of slotCols) {
    const Y = new Float64Array(n * cols);
    for (let i = 0; i < n; i++) for (let c = 0; c < cols; c++) Y[i * cols + c] = Ys[i * q + off + c];
    const fit = fitRidgeHeldOut(X, Y, n, p, cols, signal);
    coef.set(fit.sol.coef.data.subarray(0, cols * p), off * p);
    intercept.set(fit.sol.intercept, off);
    alphas.push(fit.sol.alpha);
    fits.push(fit);
    off += cols;
  }
  const slotOf = (o: number) => {
    let s = 0;
    let start = 0;
    while (o >= start + slotCols[s]) start += slotCols[s++];
    return { s, c: o - start };
  };
  const pred = (i: number, o: number) => {
    const { s, c } = slotOf(o);
    return fits[s].pred(i, c);
  };
  return { coef, intercept, alphas, heldOut: fits[0].heldOut, pred };
}

// ---------------------------------------------------------------------------------------------
// Graphs.

/** a² from the noise condition r (inverse of CosineTNoiseCond), clamped away from 0 and 1; returns [a, b, a², b²] names. */
function scalersFromR(g: GraphBuilder): { a: string; b: string; a2: string; b2: string } {
  const minVar = Math.cos((COSINE_S / (1 + COSINE_S)) * Math.PI * 0.5) ** 2;
  const r = g.op('Reshape', ['r', g.int64s([-1, 1])]);
  const ang = g.op('Mul', [g.op('Add', [r, g.floats([COSINE_S], [1])]), g.floats([Math.PI * 0.5 / (1 + COSINE_S)], [1])]);
  const c = g.op('Cos', [ang]);
  let a2 = g.op('Div', [g.op('Mul', [c, c]), g.floats([minVar], [1])]);
  // Clip, not Min(Max(..)): onnxruntime-web's WebGPU EP leaves Max/Min on the CPU (webgpu-graphs.spec.ts)
  a2 = g.op('Clip', [a2, g.floats([1e-6], []), g.floats([1 - 1e-6], [])]);
  const b2 = g.op('Sub', [g.floats([1], [1]), a2]);
  return { a: g.op('Sqrt', [a2]), b: g.op('Sqrt', [b2]), a2, b2 };
}

/** 1 for rows whose conditioning is not all zero, else 0: [B, 1]. */
function conditionedIndicator(g: GraphBuilder, c: string): string {
  const s = g.op('ReduceSum', [g.op('Abs', [c]), g.int64s([1])], { keepdims: 1 });
  return g.op('Cast', [g.op('Greater', [s, g.floats([0], [1])])], { to: 1 });
}

/**
 * The latent's unit: one global scale u with mean(σ_k²)/u² = 1 over the 64 components (as Stable
 * Diffusion's latent scale factor makes latents unit-variance overall), and each component's prior
 * variance σ_k²/u² in those units (≫ 1 for the coarse components, ≪ 1 for the fine ones).
 */
function latentScale(pca: Pick<Pca, 'sigma' | 'k'>): { unit: number; variance: Float64Array } {
  let m = 0;
  for (let k = 0; k < pca.k; k++) m += pca.sigma[k] ** 2;
  const unit = Math.sqrt(m / pca.k);
  // components that do not exist (more components than training images) get a tiny prior variance
  return { unit, variance: Float64Array.from(pca.sigma, (s) => Math.max((s / unit) ** 2, 1e-6)) };
}

/**
 * The mixture prior's components: K training scenes' latents [K, 64] (latent units), each component's
 * variance per dimension (DEMO_MIXTURE_SPREAD × that dimension's prior variance), and for stage A the
 * part of each training image (64x64) that 64 PCA components miss, quantised to 8 bits (the table
 * is the pack's largest tensor: K × 12288 bytes instead of 4×).
 */
interface Mixture {
  k: number;
  z: Float64Array;
  spread: Float64Array;
  detail: { q: Uint8Array; scale: number; dim: number };
}

function mixtureComponents(pix: Float64Array, pca: Pca, z: Float64Array, n: number, lat: { variance: Float64Array }, k: number): Mixture {
  void n;
  const d = pca.dim;
  const scores = pca.scores.subarray(0, k * DEMO_B_DIM);
  const recon = gemm(scores, k, DEMO_B_DIM, pca.basis, d); // [k, d] = scores · basis (centred)
  const resid = new Float64Array(k * d);
  let maxAbs = 1e-6;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < d; j++) {
      const v = pix[i * d + j] - pca.mean[j] - recon[i * d + j];
      resid[i * d + j] = v;
      maxAbs = Math.max(maxAbs, Math.abs(v));
    }
  }
  const scale = maxAbs / 127;
  const q = Uint8Array.from(resid, (v) => Math.round(v / scale) + 128);
  return {
    k,
    z: z.slice(0, k * DEMO_B_DIM),
    spread: Float64Array.from(lat.variance, (v) => DEMO_MIXTURE_SPREAD * v),
    detail: { q, scale, dim: d },
  };
}

/** K per-scene descriptors: scene k's are rows[k·stride … k·stride + dims − 1]. */
interface SceneTable {
  k: number;
  rows: ArrayLike<number>;
  stride: number;
  dims: number;
}

/** The first `dims` latents of the mixture's scenes. */
const latentTable = (mix: Mixture, dims: number): SceneTable => ({ k: mix.k, rows: mix.z, stride: DEMO_B_DIM, dims });

/** The table transposed: [dims, K]. */
function componentsT(t: SceneTable): Float32Array {
  const out = new Float32Array(t.dims * t.k);
  for (let k = 0; k < t.k; k++) for (let j = 0; j < t.dims; j++) out[j * t.k + k] = t.rows[k * t.stride + j];
  return out;
}

/** Σ_d z_kd² / v_d per scene: [K] (the quadratic part of a Gaussian log-density at each z_k). */
function componentNorms(t: SceneTable, v: ArrayLike<number>): Float32Array {
  const out = new Float32Array(t.k);
  for (let k = 0; k < t.k; k++) {
    let s = 0;
    for (let j = 0; j < t.dims; j++) s += t.rows[k * t.stride + j] ** 2 / v[j];
    out[k] = s;
  }
  return out;
}

/**
 * log N(z_k; m, diag v) up to a per-row constant, for every scene k: (m/v)·z_kᵀ − ½ Σ z_k²/v.
 * `m` [B, dims] may depend on the batch row; v is a constant vector.
 */
function gaussianLogWeights(g: GraphBuilder, m: string, t: SceneTable, v: ArrayLike<number>): string {
  const inv = g.floats(Float32Array.from({ length: t.dims }, (_, j) => 1 / v[j]), [t.dims]);
  const cross = g.op('MatMul', [g.op('Mul', [m, inv]), g.floats(componentsT(t), [t.dims, t.k])]);
  return g.op('Sub', [cross, g.floats(componentNorms(t, v).map((x) => 0.5 * x), [t.k])]);
}

/**
 * Exact ε̂ for a mixture prior Σ_k π_k N(z_k, diag σ²) (σ² = mix.spread) at x_t = a·z + b·ε:
 * responsibilities r_k ∝ π_k N(x_t; a·z_k, a²σ² + b²), component posterior means
 * z_k + g(x_t − a·z_k) with g = aσ²/(a²σ² + b²), so x0̂ = (1 − a·g)·Σ r_k z_k + g·x_t and
 * ε̂ = (x_t − a·x0̂)/b. `logPi` [B, K] are the log prior weights (0 = uniform).
 */
function mixtureEpsilon(g: GraphBuilder, x: string, logPi: string, mix: Mixture, dims: number, out: string): void {
  const { a, b, a2, b2 } = scalersFromR(g);
  const sig = g.floats(f32(mix.spread.subarray(0, dims)), [dims]);
  const s = g.op('Add', [g.op('Mul', [a2, sig]), b2]); // [B, dims]
  const invS = g.op('Reciprocal', [s]);
  const ZT = g.floats(componentsT(latentTable(mix, dims)), [dims, mix.k]);
  const Z2T = g.floats(componentsT(latentTable(mix, dims)).map((v) => v * v), [dims, mix.k]);
  // log N(x; a z_k, s) = a·(x/s)·z_k − ½a²·(1/s)·z_k² + const(row)
  const cross = g.op('Mul', [a, g.op('MatMul', [g.op('Mul', [x, invS]), ZT])]);
  const quad = g.op('Mul', [g.op('Mul', [a2, g.floats([0.5], [1])]), g.op('MatMul', [invS, Z2T])]);
  const logits = g.op('Add', [logPi, g.op('Sub', [cross, quad])]);
  const r = g.op('Softmax', [logits], { axis: -1 });
  const m = g.op('MatMul', [r, g.floats(f32(Array.from({ length: mix.k * dims }, (_, i) => mix.z[Math.floor(i / dims) * DEMO_B_DIM + (i % dims)])), [mix.k, dims])]);
  const gain = g.op('Mul', [g.op('Mul', [a, sig]), invS]);
  const one = g.floats([1], [1]);
  const x0 = g.op('Add', [g.op('Mul', [g.op('Sub', [one, g.op('Mul', [a, gain])]), m]), g.op('Mul', [gain, x])]);
  g.op('Div', [g.op('Sub', [x, g.op('Mul', [a, x0])]), b], undefined, out);
}

/** A Gaussian conditional of one per-scene descriptor: ridge mean from the conditioning, held-out residual variance. */
interface SceneConditional {
  sol: RidgeSolution;
  residualVar: Float64Array;
}

/**
 * Stage C (demo): exact denoiser of a MIXTURE prior over the corpus scenes' 16 coarse latents. The
 * conditioning weighs the scenes by how likely each is under fitted Gaussian conditionals (ridge
 * mean, held-out residual variance), taken as independent: of its coarse latents z_k (layout, colour),
 * of its oriented energy per angle o_k (what the coarse latents lose of a thin edge's angle) and of its
 * content s_k (classes present, background: a bar, not a tower or a fish at the bar's angle):
 * log π_k = log N(z_k; μ(c), λ) + log N(o_k; μ_o(c), λ_o) + log N(s_k; μ_s(c), λ_s). An all-zero
 * conditioning (CFG's unconditional branch) weighs them equally.
 */
function priorGraph(
  scene: { prior: SceneConditional; descriptors: (SceneConditional & { table: Float64Array; dims: number })[] },
  priorVar: Float64Array,
  mix: Mixture,
): Uint8Array {
  const g = new GraphBuilder('demo_prior_c');
  g.metadata.role = 'stage C (demo): exact mixture-prior denoiser over the training scenes\' coarse latents';
  g.input('x', 'float32', ['batch', DEMO_C_DIM]).input('r', 'float32', ['batch']);
  g.input('clip_text', 'float32', ['batch', TEXT_TOKENS, TEXT_DIM]).input('clip_text_pooled', 'float32', ['batch', 1, TEXT_DIM]);
  g.input('clip_img', 'float32', ['batch', 1, IMAGE_EMBED_DIM]);
  const c = g.op('Concat', [
    g.op('Reshape', ['clip_img', g.int64s([-1, IMAGE_EMBED_DIM])]),
    g.op('Reshape', ['clip_text', g.int64s([-1, TEXT_TOKENS * TEXT_DIM])]),
  ], { axis: 1 });
  const ind = conditionedIndicator(g, c);
  const { prior, descriptors } = scene;
  const lam = Float64Array.from(prior.residualVar, (v, k) => Math.max(v, 1e-4 * priorVar[k]));
  const latentTerm = gaussianLogWeights(g, ridgeMean(g, c, prior.sol, DEMO_C_DIM), latentTable(mix, DEMO_C_DIM), lam);
  let sum = latentTerm;
  for (const d of descriptors) {
    const table: SceneTable = { k: mix.k, rows: d.table, stride: d.dims, dims: d.dims };
    const v = Float64Array.from(d.residualVar, (x) => Math.max(x, 1e-12));
    sum = g.op('Add', [sum, gaussianLogWeights(g, ridgeMean(g, c, d.sol, d.dims), table, v)]);
  }
  const logPi = g.op('Mul', [ind, sum]);
  mixtureEpsilon(g, 'x', logPi, mix, DEMO_C_DIM, 'pred');
  g.output('pred', 'float32', ['batch', DEMO_C_DIM]);
  return g.toBytes();
}

/** c·coefᵀ + intercept in the graph: the ridge mean [B, q] of the conditioning `c` [B, p]. */
function ridgeMean(g: GraphBuilder, c: string, sol: RidgeSolution, q: number): string {
  const p = IMAGE_EMBED_DIM + TEXT_TOKENS * TEXT_DIM;
  const Wt = new Float32Array(p * q); // [p, q] = coefᵀ
  for (let o = 0; o < q; o++) for (let j = 0; j < p; j++) Wt[j * q + o] = sol.coef.data[o * p + j];
  return g.op('Add', [g.op('MatMul', [c, g.floats(Wt, [p, q])]), g.floats(f32(sol.intercept), [q])]);
}

/**
 * Stage B (demo): exact denoiser of the mixture over the training scenes' 64 latents, each scene
 * weighted by how close its 16 coarse latents are to stage C's output (`effnet`, within the
 * components' spread): the finer components come from the scene(s) stage C chose, not from a
 * Gaussian that knows nothing about them. All-zero `effnet` (unconditional): equal weights.
 */
function decoderGraph(priorVar: Float64Array, mix: Mixture): Uint8Array {
  void priorVar;
  const g = new GraphBuilder('demo_decoder_b');
  g.metadata.role = 'stage B (demo): exact mixture-prior denoiser over 64 latents, scenes weighted by their match to stage C';
  g.input('x', 'float32', ['batch', DEMO_B_DIM]).input('r', 'float32', ['batch']);
  g.input('effnet', 'float32', ['batch', DEMO_C_DIM]).input('clip', 'float32', ['batch', 1, TEXT_DIM]);
  const ind = conditionedIndicator(g, 'effnet');
  const logPi = g.op('Mul', [ind, gaussianLogWeights(g, 'effnet', latentTable(mix, DEMO_C_DIM), mix.spread)]);
  mixtureEpsilon(g, 'x', logPi, mix, DEMO_B_DIM, 'pred');
  g.output('pred', 'float32', ['batch', DEMO_B_DIM]);
  return g.toBytes();
}

function pcaEncoderGraph(pca: Pca, unit: number): Uint8Array {
  const g = new GraphBuilder('demo_pca_encoder');
  g.input('images', 'float32', ['batch', 3, LOWLEVEL_SIZE, LOWLEVEL_SIZE]);
  const d = pca.dim;
  const flat = g.op('Reshape', ['images', g.int64s([-1, d])]);
  const centred = g.op('Sub', [flat, g.floats(f32(pca.mean), [d])]);
  const P = new Float32Array(d * DEMO_C_DIM); // [d, 16]: basisᵀ / unit
  for (let c = 0; c < DEMO_C_DIM; c++) for (let j = 0; j < d; j++) P[j * DEMO_C_DIM + c] = pca.basis[c * d + j] / unit;
  g.op('MatMul', [centred, g.floats(P, [d, DEMO_C_DIM])], undefined, 'latents');
  g.output('latents', 'float32', ['batch', DEMO_C_DIM]);
  return g.toBytes();
}

/**
 * Stage A (demo): mean + latents·(basis·sigma), reshaped to 64x64, bilinear x2, clipped to [0, 1].
 * With a mixture, plus the detail 64 components miss (edges, small objects) of the training scenes
 * the latent is close to, weighted by the same responsibilities as stage B's components at zero noise.
 */
export function pcaDecoderGraph(pca: Pick<Pca, 'dim' | 'basis' | 'sigma' | 'mean'>, mix?: Mixture): Uint8Array {
  const g = new GraphBuilder('demo_pca_decoder');
  g.input('latents', 'float32', ['batch', DEMO_B_DIM]);
  const d = pca.dim;
  const B = new Float32Array(DEMO_B_DIM * d);
  for (let c = 0; c < DEMO_B_DIM; c++) for (let j = 0; j < d; j++) B[c * d + j] = pca.basis[c * d + j] * pca.sigma[c];
  // The mean is added AFTER the Reshape: a MatMul directly followed by an Add is fused by ORT into
  // a Gemm, whose WebGPU kernel is ~3x slower than MatMul's on SwiftShader (same values on wasm;
  // test/unit/generate/pixelDecoderGraph.test.ts).
  let detail: string | null = null;
  const small = g.op('Add', [
    g.op('Reshape', [g.op('MatMul', ['latents', g.floats(B, [DEMO_B_DIM, d])]), g.int64s([-1, 3, LOWLEVEL_SIZE, LOWLEVEL_SIZE])]),
    g.floats(f32(pca.mean), [3, LOWLEVEL_SIZE, LOWLEVEL_SIZE]),
  ]);
  if (mix) {
    const r = g.op('Softmax', [gaussianLogWeights(g, 'latents', latentTable(mix, DEMO_B_DIM), mix.spread)], { axis: -1 });
    // uint8 table -> float once: ORT folds Cast/Sub/Mul of constants at session creation
    const qName = g.fresh('detail_q');
    g.initializer(qName, mix.detail.q, [mix.k, mix.detail.dim], 'uint8');
    const table = g.op('Mul', [g.op('Sub', [g.op('Cast', [qName], { to: 1 }), g.floats([128], [1])]), g.floats([mix.detail.scale], [1])]);
    detail = g.op('Reshape', [g.op('MatMul', [r, table]), g.int64s([-1, 3, LOWLEVEL_SIZE, LOWLEVEL_SIZE])]);
  }
  const f = IMAGE_SIZE / LOWLEVEL_SIZE;
  let up = g.op('Resize', [small, '', g.floats([1, 1, f, f], [4])], { mode: 'linear' });
  // The detail is upsampled by pixel replication: bilinear would blur the edges it exists to carry
  // (measured: high-frequency energy 0.45 of the scene's with bilinear detail).
  if (detail) up = g.op('Add', [up, g.op('Resize', [detail, '', g.floats([1, 1, f, f], [4])], { mode: 'nearest' })]);
  g.op('Clip', [up, g.floats([0], []), g.floats([1], [])], undefined, 'images'); // = Min(Max(up, 0), 1), runs on WebGPU
  g.output('images', 'float32', ['batch', 3, IMAGE_SIZE, IMAGE_SIZE]);
  return g.toBytes();
}

/**
 * The caption readout: logits [batch, seq, V] for the template's positions from the prompt
 * features. `sol`: the slot readouts (coef [slot words, prompt], intercept [slot words]) in
 * SLOTS order; `slotCols`: how many words each slot has.
 */
export function captionGraph(sol: { coef: Float64Array; intercept: Float64Array }, vocab: string[], vIndex: Map<string, number>, slotCols: number[]): Uint8Array {
  const V = vocab.length;
  const p = PROMPT_TOKENS * PROMPT_DIM;
  const S = SLOTS.length;
  // W_all [p, S·V], b_all [S·V]: slot s's readout placed at its words' vocabulary ids.
  const W = new Float32Array(p * S * V);
  const b = new Float32Array(S * V);
  let off = 0;
  SLOTS.forEach((s, si) => {
    SLOT_WORDS[s].forEach((word, c) => {
      const id = vIndex.get(word) as number;
      const o = off + c;
      for (let j = 0; j < p; j++) W[j * S * V + si * V + id] = sol.coef[o * p + j];
      b[si * V + id] = sol.intercept[o];
    });
    off += slotCols[si];
  });
  // P [T, S] selects the slot for each position; bias [T, V] fixes template words / masks non-slot words.
  // The article's row is filled in the graph below; its bias row masks every word but the
  // articles some colour takes.
  const T = CAPTION_POSITIONS;
  const P = new Float32Array(T * S);
  const bias = new Float32Array(T * V);
  const articleAt = DEMO_TEMPLATE.indexOf('article');
  const articles = (['a', 'an'] as const)
    .map((a) => ({ id: vIndex.get(a) as number, colours: COLOUR_NAMES.filter((c) => indefiniteArticle(c) === a).map((c) => vIndex.get(c) as number) }))
    .filter((a) => a.colours.length > 0);
  const articleIds = articles.map((a) => a.id);
  for (let t = 0; t < T; t++) {
    const item = t < DEMO_TEMPLATE.length ? DEMO_TEMPLATE[t] : null;
    const slot = SLOTS.indexOf(item as (typeof SLOTS)[number]);
    if (slot >= 0) {
      P[t * S + slot] = 1;
      const allowed = new Set(SLOT_WORDS[SLOTS[slot]].map((w) => vIndex.get(w)));
      for (let v = 0; v < V; v++) if (!allowed.has(v)) bias[t * V + v] = -1e4;
    } else if (t === articleAt) {
      for (let v = 0; v < V; v++) if (!articleIds.includes(v)) bias[t * V + v] = -1e4;
    } else {
      const id = item === null ? EOS : (vIndex.get(item) as number);
      bias[t * V + id] = 1e4;
    }
  }
  const g = new GraphBuilder('demo_caption_readout');
  g.input('prompt_features', 'float32', ['batch', PROMPT_TOKENS, PROMPT_DIM]).input('input_ids', 'int64', ['batch', 'seq']);
  const flat = g.op('Reshape', ['prompt_features', g.int64s([-1, p])]);
  const slots = g.op('Reshape', [g.op('Add', [g.op('MatMul', [flat, g.floats(W, [p, S * V])]), g.floats(b, [S * V])]), g.int64s([-1, S, V])]);
  let table = g.op('Add', [g.op('MatMul', [g.floats(P, [T, S]), slots]), g.floats(bias, [T, V])]); // [B, T, V]
  // Greedy decoding emits the article before the colour, so the article's position reads the
  // colour slot itself: "a" scores the best consonant-initial colour, "an" the best vowel-initial
  // one, and the word that wins the colour slot next decides the article (a red ring, an orange ring).
  const colourRow = g.op('Gather', [slots, g.int64s([SLOTS.indexOf('colour')])], { axis: 1 }); // [B, 1, V]
  const scores = articles.map((a) => g.op('ReduceMax', [g.op('Gather', [colourRow, g.int64s(a.colours)], { axis: 2 })], { axes: [2], keepdims: 1 })); // [B, 1, 1] each
  const onehot = new Float32Array(articles.length * V);
  articles.forEach((a, k) => (onehot[k * V + a.id] = 1));
  const articleRow = g.op('MatMul', [scores.length > 1 ? g.op('Concat', scores, { axis: 2 }) : scores[0], g.floats(onehot, [articles.length, V])]); // [B, 1, V]
  const place = new Float32Array(T);
  place[articleAt] = 1;
  // [B, 1, V] x [1, T, 1] puts the row at the article's position and zeros everywhere else.
  table = g.op('Add', [table, g.op('Mul', [articleRow, g.floats(place, [1, T, 1])])]);
  const seq = g.op('Slice', [g.op('Shape', ['input_ids']), g.int64s([1]), g.int64s([2]), g.int64s([0])]);
  g.op('Slice', [table, g.int64s([0]), seq, g.int64s([1])], undefined, 'logits');
  g.output('logits', 'float32', ['batch', 'seq', V]);
  return g.toBytes();
}
