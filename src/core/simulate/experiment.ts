// The SIMULATED experiment before any decoding: the stimulus world (training images, the 18 test
// stimuli, their features from the demo ONNX encoders) and, per subject, the cortex, the ground-truth
// encoding model and the betas of training and test trials.
import { throwIfAborted } from '../base/errors.ts';
import { RidgePath } from '../decode/ridge.ts';
import { matrix, matrix64 } from '../tensor/matrix.ts';
import { buildCortex, type SimCortex } from './cortex.ts';
import {
  BLURRY_DIM,
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
import { buildEncoderGraphs, EncoderRunner, IMAGE_FEATURES, imageFeatureGraph, tokenize, type EncoderGraphs, type ImageFeatureStats } from './encoders.ts';
import { createSession, type OrtSession } from '../onnx/runtime.ts';
import {
  buildEncodingModel,
  energyDrive,
  fitDriveStatistics,
  IMAGERY,
  imaginedImage,
  NOISE,
  orientedEnergy,
  semanticDrive,
  voxelSignal,
  type EncodingModel,
} from './encoding.ts';
import { streamFor } from '../base/rng.ts';
import { fitPromptClassifier, type ShapeClassifier } from './shapeFeatures.ts';
import { runImageBatches } from './imageBatches.ts';
import { downsample, renderScene, toCHW } from './render.ts';
import { testStimuli, trainingScenes, type TestStimulus } from './stimuli.ts';
import { planTrials, RUN_ORDER, zscoreRows, type TrialPlan } from './trials.ts';
import { caption, SemanticSpace, type Scene } from './world.ts';
import type { HeadName } from '../bundle/manifest.ts';
import type { StepProgress } from '../base/progress.ts';

export const HEAD_SIZES: Record<HeadName, number> = {
  image: IMAGE_EMBED_DIM,
  text: TEXT_TOKENS * TEXT_DIM,
  blurry: BLURRY_DIM,
  retrieval: RETRIEVAL_TOKENS * RETRIEVAL_DIM,
  prompt: PROMPT_TOKENS * PROMPT_DIM,
};
export const HEAD_ORDER: HeadName[] = ['image', 'text', 'blurry', 'retrieval', 'prompt'];

/** Features of a batch of images (row-major, one row per image) for every head. */
export type FeatureTable = Record<HeadName, Float32Array>;

export interface World {
  seed: number;
  semantic: SemanticSpace;
  trainScenes: Scene[];
  trainImages: Uint8Array[];
  trainCaptions: string[];
  trainEnergy: Float32Array[];
  trainSemantic: Float32Array[];
  trainFeatures: FeatureTable;
  stimuli: TestStimulus[];
  /** Ground-truth image per stimulus (null for concepts). */
  stimulusImages: (Uint8Array | null)[];
  /** Variant images per concept stimulus (empty otherwise). */
  variantImages: Uint8Array[][];
  /** Features of the 18 stimuli [18, size]: the image's, or for a concept the mean over its variants (text: the word). */
  stimulusFeatures: FeatureTable;
  /** Semantic code of each stimulus: the scene's, or the concept word's vector. */
  stimulusSemantic: Float32Array[];
  /** Energy of each stimulus image and of its imagined copy (null for concepts). */
  stimulusEnergy: (Float32Array | null)[];
  imaginedEnergy: (Float32Array | null)[];
  variantEnergy: Float32Array[][];
  variantSemantic: Float32Array[][];
  graphs: EncoderGraphs;
  /** The prompt encoder's object-class classifier, fitted on the training images, optionally topped up (shapeFeatures.ts). */
  promptClassifier: ShapeClassifier;
  /** [SEMANTIC_DIM, IMAGE_EMBED_DIM + 1]: semantic code ≈ W · embedding + b (bias last), fitted on training images. */
  semanticFromEmbedding: Float32Array;
}

export interface WorldOptions {
  trainImages: number;
  /**
   * Images the prompt encoder's class classifier is fitted on: the training images, topped up with
   * other scenes of the world to this count (shapeFeatures.ts); default: the training images only.
   */
  promptImages?: number;
  signal?: AbortSignal;
  onProgress?: StepProgress;
}

/** Runs all image encoders on uint8 images in batches; returns features per head. */
async function encodeImages(run: EncoderRunner, images: Uint8Array[], captions: string[], signal?: AbortSignal): Promise<FeatureTable> {
  const n = images.length;
  const out: FeatureTable = {
    image: new Float32Array(n * HEAD_SIZES.image),
    text: new Float32Array(n * HEAD_SIZES.text),
    blurry: new Float32Array(n * HEAD_SIZES.blurry),
    retrieval: new Float32Array(n * HEAD_SIZES.retrieval),
    prompt: new Float32Array(n * HEAD_SIZES.prompt),
  };
  const B = 50;
  const px = 3 * IMAGE_SIZE * IMAGE_SIZE;
  const px64 = 3 * LOWLEVEL_SIZE * LOWLEVEL_SIZE;
  for (let s = 0; s < n; s += B) {
    throwIfAborted(signal);
    const m = Math.min(B, n - s);
    const chw = new Float32Array(m * px);
    const chw64 = new Float32Array(m * px64);
    const tok = new BigInt64Array(m * TEXT_TOKENS);
    for (let i = 0; i < m; i++) {
      toCHW(images[s + i], IMAGE_SIZE, chw, i * px);
      toCHW(downsample(images[s + i], IMAGE_SIZE, IMAGE_SIZE / LOWLEVEL_SIZE), LOWLEVEL_SIZE, chw64, i * px64);
      tok.set(tokenize(captions[s + i]), i * TEXT_TOKENS);
    }
    out.image.set(await run.image(chw, m), s * HEAD_SIZES.image);
    out.text.set(await run.text(tok, m), s * HEAD_SIZES.text);
    out.blurry.set(await run.lowlevel(chw64, m), s * HEAD_SIZES.blurry);
    out.retrieval.set(await run.retrieval(chw, m), s * HEAD_SIZES.retrieval);
    out.prompt.set(await run.prompt(chw, m), s * HEAD_SIZES.prompt);
  }
  return out;
}

/** Mean and sd of the image encoder's pre-projection features over the training images. */
async function featureStatistics(session: OrtSession, images: Uint8Array[], signal?: AbortSignal): Promise<ImageFeatureStats> {
  const n = images.length;
  const sum = new Float64Array(IMAGE_FEATURES);
  const sq = new Float64Array(IMAGE_FEATURES);
  await runImageBatches(
    session,
    images,
    (res, _s, m) => {
      const f = res.features.data as Float32Array;
      for (let i = 0; i < m; i++) for (let j = 0; j < IMAGE_FEATURES; j++) {
        const v = f[i * IMAGE_FEATURES + j];
        sum[j] += v;
        sq[j] += v * v;
      }
    },
    { signal },
  );
  const mean = new Float32Array(IMAGE_FEATURES);
  const std = new Float32Array(IMAGE_FEATURES);
  for (let j = 0; j < IMAGE_FEATURES; j++) {
    mean[j] = sum[j] / n;
    std[j] = Math.sqrt(Math.max(0, sq[j] / n - mean[j] * mean[j]));
  }
  return { mean, std };
}

/** Builds the stimulus world and runs the demo encoders over it. */
export async function buildWorld(seed: number, opts: WorldOptions): Promise<World> {
  const report = opts.onProgress ?? (() => {});
  const semantic = new SemanticSpace(seed);
  const trainScenes = trainingScenes(seed, opts.trainImages);
  const trainImages: Uint8Array[] = [];
  const trainEnergy: Float32Array[] = [];
  for (let i = 0; i < trainScenes.length; i++) {
    if (i % 100 === 0) {
      throwIfAborted(opts.signal);
      report(i, trainScenes.length, 'rendering training images');
    }
    const img = renderScene(trainScenes[i]);
    trainImages.push(img);
    trainEnergy.push(orientedEnergy(img));
  }
  const trainCaptions = trainScenes.map(caption);
  const trainSemantic = trainScenes.map((s) => semantic.scene(s));
  const stimuli = testStimuli(seed);
  const stimulusImages = stimuli.map((s) => (s.scene ? renderScene(s.scene) : null));
  const variantImages = stimuli.map((s) => (s.variants ?? []).map((v) => renderScene(v)));
  const stimulusEnergy = stimulusImages.map((im) => (im ? orientedEnergy(im) : null));
  const imaginedEnergy = stimulusImages.map((im) => (im ? orientedEnergy(imaginedImage(im)) : null));
  const variantEnergy = variantImages.map((vs) => vs.map((v) => orientedEnergy(v)));
  const variantSemantic = stimuli.map((s) => (s.variants ?? []).map((v) => semantic.scene(v)));
  const stimulusSemantic = stimuli.map((s) => (s.scene ? semantic.scene(s.scene) : semantic.word(s.concept!)));

  report(0, 1, 'running demo encoders (ONNX)');
  // Fit the image encoder's feature standardisation on the training images, then build the final graphs.
  const featSession = await createSession(imageFeatureGraph(seed));
  const featStats = await featureStatistics(featSession, trainImages, opts.signal);
  await featSession.release();
  // The prompt encoder's object-class classifier, fitted on the training images (optionally topped up).
  const promptClassifier = await fitPromptClassifier(seed, {
    training: { scenes: trainScenes, images: trainImages },
    images: Math.max(trainScenes.length, opts.promptImages ?? 0),
    signal: opts.signal,
  });
  const graphs = buildEncoderGraphs(seed, featStats, promptClassifier);
  const runner = await EncoderRunner.create(graphs);
  const trainFeatures = await encodeImages(runner, trainImages, trainCaptions, opts.signal);
  // Stimuli: the image itself, or (concepts) every variant, averaged; concept text = the word.
  const flatImgs: Uint8Array[] = [];
  const flatCaps: string[] = [];
  const owner: number[] = [];
  stimuli.forEach((s, i) => {
    if (stimulusImages[i]) {
      flatImgs.push(stimulusImages[i]!);
      flatCaps.push(s.caption);
      owner.push(i);
    } else {
      variantImages[i].forEach((v) => {
        flatImgs.push(v);
        flatCaps.push(s.caption);
        owner.push(i);
      });
    }
  });
  const flat = await encodeImages(runner, flatImgs, flatCaps, opts.signal);
  await runner.release();
  const stimulusFeatures = {} as FeatureTable;
  for (const h of HEAD_ORDER) {
    const size = HEAD_SIZES[h];
    const acc = new Float32Array(stimuli.length * size);
    const cnt = new Float32Array(stimuli.length);
    owner.forEach((st, k) => {
      cnt[st]++;
      for (let j = 0; j < size; j++) acc[st * size + j] += flat[h][k * size + j];
    });
    for (let st = 0; st < stimuli.length; st++) for (let j = 0; j < size; j++) acc[st * size + j] /= cnt[st];
    stimulusFeatures[h] = acc;
  }

  // Semantic code from the image embedding (used to predict betas for arbitrary images).
  const n = trainImages.length;
  const path = new RidgePath(matrix(n, IMAGE_EMBED_DIM, trainFeatures.image), matrix(n, SEMANTIC_DIM, concatRows(trainSemantic, SEMANTIC_DIM)), { signal: opts.signal });
  const sol = path.solve(1);
  const semanticFromEmbedding = new Float32Array(SEMANTIC_DIM * (IMAGE_EMBED_DIM + 1));
  for (let k = 0; k < SEMANTIC_DIM; k++) {
    for (let j = 0; j < IMAGE_EMBED_DIM; j++) semanticFromEmbedding[k * (IMAGE_EMBED_DIM + 1) + j] = sol.coef.data[k * IMAGE_EMBED_DIM + j];
    semanticFromEmbedding[k * (IMAGE_EMBED_DIM + 1) + IMAGE_EMBED_DIM] = sol.intercept[k];
  }
  return {
    seed, semantic, trainScenes, trainImages, trainCaptions, trainEnergy, trainSemantic, trainFeatures, stimuli,
    stimulusImages, variantImages, stimulusFeatures, stimulusSemantic, stimulusEnergy, imaginedEnergy, variantEnergy,
    variantSemantic, graphs, promptClassifier, semanticFromEmbedding,
  };
}

export function concatRows(rows: Float32Array[], cols: number): Float32Array {
  const out = new Float32Array(rows.length * cols);
  rows.forEach((r, i) => out.set(r, i * cols));
  return out;
}

export interface SubjectSim {
  subject: number;
  cortex: SimCortex;
  model: EncodingModel;
  /** Training betas [nTrain, nVox] (z-scored per voxel over training trials); not stored in the bundle. */
  trainBetas: Float32Array;
  trials: TrialPlan[];
  /** Test betas [trials.length, nVox], z-scored per voxel within each run label. */
  testBetas: Float32Array;
  /** Noise-free signal of each test trial (for tests and docs), [trials.length, nVox]. */
  testSignal: Float32Array;
}

/** Simulates one subject: cortex, encoding model, training and test trials. */
export function simulateSubject(world: World, subject: number, voxels: number, signal?: AbortSignal): SubjectSim {
  const seed = world.seed;
  const cortex = buildCortex(seed, subject, voxels);
  const model = buildEncodingModel(seed, cortex);
  const nV = model.nVox;
  const nT = world.trainImages.length;
  const eDr: Float32Array[] = [];
  const sDr: Float32Array[] = [];
  for (let i = 0; i < nT; i++) {
    if (i % 200 === 0) throwIfAborted(signal);
    eDr.push(energyDrive(model, world.trainEnergy[i]));
    sDr.push(semanticDrive(model, world.trainSemantic[i]));
  }
  fitDriveStatistics(model, eDr, sDr);
  const rng = streamFor(seed, `noise-${subject}`);
  const addNoise = (row: Float32Array, scale: number) => {
    const shared = rng.normal() * NOISE.sharedSd;
    for (let v = 0; v < nV; v++) row[v] += scale * (NOISE.voxelSd * rng.normal() + shared * model.sharedLoading[v]);
  };
  const trainBetas = new Float32Array(nT * nV);
  for (let i = 0; i < nT; i++) {
    const row = trainBetas.subarray(i * nV, (i + 1) * nV);
    voxelSignal(model, eDr[i], sDr[i], 1, 1, row);
    addNoise(row, 1);
  }
  zscoreRows(trainBetas, nV, Array.from({ length: nT }, (_, i) => i));

  const trials = planTrials(streamFor(seed, `trials-${subject}`));
  const testBetas = new Float32Array(trials.length * nV);
  const testSignal = new Float32Array(trials.length * nV);
  const cacheE = new Map<string, Float32Array>();
  const drive = (key: string, f: () => Float32Array) => {
    let d = cacheE.get(key);
    if (!d) cacheE.set(key, (d = f()));
    return d;
  };
  trials.forEach((t, k) => {
    const st = world.stimuli[t.stimulus];
    const sig = testSignal.subarray(k * nV, (k + 1) * nV);
    if (t.condition === 'vision') {
      if (st.set === 'conceptual') {
        const vi = t.repeat % world.variantImages[t.stimulus].length;
        const e = drive(`v${t.stimulus}:${vi}:e`, () => energyDrive(model, world.variantEnergy[t.stimulus][vi]));
        const s = drive(`v${t.stimulus}:${vi}:s`, () => semanticDrive(model, world.variantSemantic[t.stimulus][vi]));
        voxelSignal(model, e, s, 1, 1, sig);
      } else {
        const e = drive(`s${t.stimulus}:e`, () => energyDrive(model, world.stimulusEnergy[t.stimulus]!));
        const s = drive(`s${t.stimulus}:s`, () => semanticDrive(model, world.stimulusSemantic[t.stimulus]));
        voxelSignal(model, e, s, 1, 1, sig);
      }
    } else {
      const vivid = rng.uniform(0.7, 1);
      // imagined semantic code: the scene's classes, fewer of its attributes (a concept: its word)
      const s = drive(`i${t.stimulus}:s`, () =>
        semanticDrive(model, st.scene ? world.semantic.scene(st.scene, IMAGERY.attributeKeep) : world.stimulusSemantic[t.stimulus]));
      const e = world.imaginedEnergy[t.stimulus] ? drive(`i${t.stimulus}:e`, () => energyDrive(model, world.imaginedEnergy[t.stimulus]!)) : null;
      voxelSignal(model, e, s, IMAGERY.earlyGain, IMAGERY.semanticGain * vivid, sig);
    }
    const row = testBetas.subarray(k * nV, (k + 1) * nV);
    row.set(sig);
    addNoise(row, t.condition === 'imagery' ? IMAGERY.noiseScale : 1);
  });
  for (const run of RUN_ORDER) {
    const rows: number[] = [];
    trials.forEach((t, i) => t.run === run && rows.push(i));
    zscoreRows(testBetas, nV, rows);
  }
  return { subject, cortex, model, trainBetas, trials, testBetas, testSignal };
}

/** Averages the betas of each stimulus's trials of one condition: [18, nVox] (rows of missing stimuli are 0). */
export function averageByStimulus(sim: SubjectSim, condition: 'vision' | 'imagery', nStimuli = 18): Float32Array {
  const nV = sim.model.nVox;
  const out = new Float32Array(nStimuli * nV);
  const cnt = new Float32Array(nStimuli);
  sim.trials.forEach((t, k) => {
    if (t.condition !== condition) return;
    cnt[t.stimulus]++;
    for (let v = 0; v < nV; v++) out[t.stimulus * nV + v] += sim.testBetas[k * nV + v];
  });
  for (let s = 0; s < nStimuli; s++) if (cnt[s]) for (let v = 0; v < nV; v++) out[s * nV + v] /= cnt[s];
  return out;
}

export { matrix64 };
