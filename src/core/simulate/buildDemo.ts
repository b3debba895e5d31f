// `mirage demo`: builds the SIMULATED NSD-Imagery bundle end to end: stimulus world and demo ONNX
// encoders, subjects (cortex, encoding model, trials), ridge decoders (penalty chosen on the tuning
// subjects' imagery performance, as MIRAGE), reduced-rank heads, stimulus features, a gallery, and
// an `extensions.simulation` block with the ground-truth encoding model. Deterministic for a seed.
import { throwIfAborted } from '../base/errors.ts';
import type { Head, HeadName, Manifest, Roi, Stimulus, Subject, Trial, FeatureSet, TensorRef } from '../bundle/manifest.ts';
import { sha256Hex } from '../bundle/sha256.ts';
import { BundleWriter, type ShardSink } from '../bundle/writer.ts';
import { addHead } from '../decode/headBuilder.ts';
import { buildDemoModelPack } from './demoPack.ts';
import { reduceRank } from '../decode/reducedRank.ts';
import { RidgePath, r2Score, type RidgeSolution } from '../decode/ridge.ts';
import { matrix, matrix64 } from '../tensor/matrix.ts';
import { AREA_INFO, AREAS, roiVoxels } from './cortex.ts';
import {
  DECODED_SUBJECTS,
  DEFAULT_GALLERY_IMAGES,
  DEFAULT_TRAIN_IMAGES,
  DEFAULT_VOXELS,
  HEAD_SHAPES,
  IMAGE_SIZE,
  SEMANTIC_DIM,
  TUNING_SUBJECTS,
  IMAGE_EMBED_DIM,
} from './dims.ts';
import { vocabulary } from './encoders.ts';
import { AREA_MIX, CSS_EXPONENT, ENERGY_GRIDS, GRID_OFFSETS, IMAGERY, NOISE, ORIENTATIONS, type EncodingModel } from './encoding.ts';
import { averageByStimulus, buildWorld, concatRows, HEAD_ORDER, HEAD_SIZES, simulateSubject, type SubjectSim, type World } from './experiment.ts';
import type { StepProgress } from '../base/progress.ts';

export interface DemoOptions {
  seed: number;
  voxels?: number;
  /** Training images (= training trials per subject). */
  trainImages?: number;
  galleryImages?: number;
  /** Penalty grid searched on the tuning subjects. */
  alphas?: number[];
  /** Stored rank per head (clamped to the head's size). */
  ranks?: Partial<Record<HeadName, number>>;
  decodedSubjects?: number[];
  tuningSubjects?: number[];
  /** The command line, recorded in the provenance. */
  command?: string;
  /** Fixed creation time (tests, reproducible builds); default: now. */
  createdAt?: string;
  signal?: AbortSignal;
  onProgress?: StepProgress;
}

export const DEFAULT_ALPHAS = [100, 300, 1000, 3000, 10000, 30000, 100000];
export const DEFAULT_RANKS: Record<HeadName, number> = { image: 64, text: 96, blurry: 96, retrieval: 96, prompt: 96 };

const ROLES: Record<HeadName, string> = {
  image: 'image embedding (simulated stand-in for CLIP ViT-L/14, 768)',
  text: 'caption token embeddings (simulated stand-in for CLIP ViT-bigG/14 last hidden state, 77x1280)',
  blurry: 'low-level latents, DCT octaves coarse to fine (simulated stand-in for VDVAE 31 layers, 91168)',
  retrieval: 'per-token L2-normalised hidden states (simulated stand-in for CLIP ViT-L/14, 257x1024)',
  prompt: 'caption-decoder prompt features (simulated stand-in for GiT-large-coco, 257x1024)',
};

const pad2 = (n: number) => String(n).padStart(2, '0');

function columnStats(data: Float32Array, rows: number, cols: number): { mean: Float32Array; std: Float32Array } {
  const mean = new Float64Array(cols);
  const sq = new Float64Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) mean[j] += data[i * cols + j];
  for (let j = 0; j < cols; j++) mean[j] /= rows;
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) sq[j] += (data[i * cols + j] - mean[j]) ** 2;
  return { mean: Float32Array.from(mean), std: Float32Array.from(sq, (s) => Math.sqrt(s / rows)) };
}

/** All heads' targets side by side: [n, Σ sizes] in HEAD_ORDER. */
function stackTargets(table: Record<HeadName, Float32Array>, n: number): Float32Array {
  const total = HEAD_ORDER.reduce((a, h) => a + HEAD_SIZES[h], 0);
  const out = new Float32Array(n * total);
  for (let i = 0; i < n; i++) {
    let o = i * total;
    for (const h of HEAD_ORDER) {
      const s = HEAD_SIZES[h];
      out.set(table[h].subarray(i * s, (i + 1) * s), o);
      o += s;
    }
  }
  return out;
}

function headColumns(h: HeadName): [number, number] {
  let o = 0;
  for (const k of HEAD_ORDER) {
    if (k === h) return [o, o + HEAD_SIZES[k]];
    o += HEAD_SIZES[k];
  }
  throw new Error(h);
}

function sliceCols(data: Float64Array, rows: number, cols: number, a: number, b: number): Float64Array {
  const out = new Float64Array(rows * (b - a));
  for (let i = 0; i < rows; i++) out.set(data.subarray(i * cols + a, i * cols + b), i * (b - a));
  return out;
}

/** Rows of the 18 stimuli usable for imagery tuning/validation (all sets; concepts use their variant mean). */
const ALL_STIMULI = Array.from({ length: 18 }, (_, i) => i);

function writeModelTensors(w: BundleWriter, shard: string, m: EncodingModel): Record<string, TensorRef> {
  const n = m.nVox;
  return {
    prfStart: w.addTensor(shard, m.prfStart, 'int32', [n + 1]),
    prfCell: w.addTensor(shard, m.prfCell, 'int32', [m.prfCell.length]),
    prfWeight: w.addTensor(shard, m.prfWeight, 'float32', [m.prfWeight.length]),
    oriWeight: w.addTensor(shard, m.oriWeight, 'float32', [n, ORIENTATIONS.length]),
    semWeight: w.addTensor(shard, m.semWeight, 'float32', [n, SEMANTIC_DIM]),
    mix: w.addTensor(shard, m.mix, 'float32', [n, 2]),
    quality: w.addTensor(shard, m.quality, 'float32', [n]),
    sharedLoading: w.addTensor(shard, m.sharedLoading, 'float32', [n]),
    energyMean: w.addTensor(shard, m.energyMean, 'float32', [n]),
    energyStd: w.addTensor(shard, m.energyStd, 'float32', [n]),
    semMean: w.addTensor(shard, m.semMean, 'float32', [n]),
    semStd: w.addTensor(shard, m.semStd, 'float32', [n]),
  };
}

export async function buildDemo(sink: ShardSink, opts: DemoOptions): Promise<Manifest> {
  const seed = opts.seed;
  const voxels = opts.voxels ?? DEFAULT_VOXELS;
  const nTrain = opts.trainImages ?? DEFAULT_TRAIN_IMAGES;
  const nGallery = Math.min(opts.galleryImages ?? DEFAULT_GALLERY_IMAGES, nTrain);
  const alphas = opts.alphas ?? DEFAULT_ALPHAS;
  const ranks = { ...DEFAULT_RANKS, ...opts.ranks };
  const decoded = opts.decodedSubjects ?? [...DECODED_SUBJECTS];
  const tuning = opts.tuningSubjects ?? [...TUNING_SUBJECTS];
  if (!Number.isInteger(voxels) || voxels < 50) throw new RangeError(`buildDemo: voxels must be an integer >= 50, got ${voxels}`);
  if (!Number.isInteger(nTrain) || nTrain < 50) throw new RangeError(`buildDemo: trainImages must be an integer >= 50, got ${nTrain}`);
  const signal = opts.signal;
  // progress: world (2 units), each tuning subject (1), each decoded subject (2), writing (1), model pack (1)
  const total = 2 + tuning.length + 2 * decoded.length + 2;
  let done = 0;
  const report = (label: string) => opts.onProgress?.(done, total, label);
  const step = (label: string) => {
    done++;
    report(label);
  };

  report('rendering the stimulus world');
  const world: World = await buildWorld(seed, {
    trainImages: nTrain,
    signal,
    onProgress: (_d, _t, label) => report(label),
  });
  step('stimulus world and demo encoders ready');
  const writer = new BundleWriter(sink);

  // ---------- targets ----------
  const Ytrain = stackTargets(world.trainFeatures, nTrain);
  const nOutAll = Ytrain.length / nTrain;
  const Ystim = stackTargets(world.stimulusFeatures, 18);
  const stats = columnStats(Ytrain, nTrain, nOutAll);
  step('targets ready');

  // ---------- penalty on tuning subjects (imagery performance) ----------
  const tuneScores: Record<string, number[]> = {};
  const meanScores = new Float64Array(alphas.length);
  for (const s of tuning) {
    throwIfAborted(signal);
    report(`tuning subject ${s}: simulating`);
    const sim = simulateSubject(world, s, voxels, signal);
    report(`tuning subject ${s}: ridge path`);
    const path = new RidgePath(matrix(nTrain, voxels, sim.trainBetas), matrix(nTrain, nOutAll, Ytrain), { signal });
    const Xval = averageByStimulus(sim, 'imagery');
    const Yval = matrix64(18, nOutAll, Float64Array.from(Ystim));
    const predict = path.predictor(matrix(18, voxels, Xval));
    // score: mean over heads of each head's R² (each head counts once whatever its size)
    const scores = alphas.map((a) => {
      const P = predict(a);
      let acc = 0;
      for (const h of HEAD_ORDER) {
        const [c0, c1] = headColumns(h);
        acc += r2Score(matrix64(18, c1 - c0, sliceCols(Yval.data, 18, nOutAll, c0, c1)), matrix64(18, c1 - c0, sliceCols(P.data, 18, nOutAll, c0, c1)));
      }
      return acc / HEAD_ORDER.length;
    });
    tuneScores[`subj${pad2(s)}`] = scores;
    scores.forEach((v, i) => (meanScores[i] += v / tuning.length));
    step(`tuning subject ${s} done`);
  }
  let best = 0;
  for (let i = 1; i < alphas.length; i++) if (meanScores[i] > meanScores[best]) best = i;
  const alpha = alphas[best];
  const penaltySource = tuning.length
    ? `grid ${alphas.join(',')} on held-out tuning subjects ${tuning.join(',')}: best mean imagery R² over heads (stimulus-averaged imagery trials)`
    : 'fixed (no tuning subjects)';

  // ---------- decoded subjects ----------
  const subjects: Subject[] = [];
  const trials: Trial[] = [];
  const simBlocks: Record<string, unknown>[] = [];
  for (const s of decoded) {
    throwIfAborted(signal);
    report(`subject ${s}: simulating`);
    const sim: SubjectSim = simulateSubject(world, s, voxels, signal);
    const sub = `subj${pad2(s)}`;
    // surfaces, ROIs, voxel map
    const surfShard = `${sub}/surface.bin`;
    const surfaces = sim.cortex.hemis.map((h) => ({
      hemi: h.hemi,
      vertexCount: h.vertexCount,
      faces: writer.addTensor(surfShard, h.faces, 'int32', [h.faces.length / 3, 3]),
      shapes: {
        folded: writer.addTensor(surfShard, h.folded, 'float32', [h.vertexCount, 3]),
        inflated: writer.addTensor(surfShard, h.inflated, 'float32', [h.vertexCount, 3]),
        flat: writer.addTensor(surfShard, h.flat, 'float32', [h.vertexCount, 3]),
      },
    }));
    const voxelToVertex = writer.addTensor(surfShard, sim.cortex.voxels.voxelToVertex, 'int32', [voxels, 2]);
    const rois: Roi[] = [];
    for (const [name, idx] of roiVoxels(sim.cortex)) {
      if (!idx.length) continue;
      rois.push({ name, color: AREA_INFO[name].color, group: AREA_INFO[name].group, voxels: writer.addTensor(`${sub}/rois.bin`, idx, 'int32', [idx.length]) });
    }
    // trials
    const betaShard = `${sub}/betas.bin`;
    const ref = writer.addTensor(betaShard, sim.testBetas, 'float16', [sim.trials.length, voxels]);
    sim.trials.forEach((t, k) => {
      trials.push({ subject: s, run: t.run, stimulus: t.stimulus, condition: t.condition, repeat: t.repeat, betas: { shard: betaShard, offset: ref.offset + k * voxels * 2 } });
    });
    // ground-truth model
    simBlocks.push({ subject: s, model: writeModelTensors(writer, `${sub}/simulation.bin`, sim.model), voxelArea: writer.addTensor(`${sub}/simulation.bin`, sim.cortex.voxels.area, 'uint8', [voxels]), prf: {
      x: writer.addTensor(`${sub}/simulation.bin`, sim.cortex.voxels.x, 'float32', [voxels]),
      y: writer.addTensor(`${sub}/simulation.bin`, sim.cortex.voxels.y, 'float32', [voxels]),
      sigma: writer.addTensor(`${sub}/simulation.bin`, sim.cortex.voxels.sigma, 'float32', [voxels]),
    } });
    step(`subject ${s}: fitting ridge (alpha ${alpha})`);
    const path = new RidgePath(matrix(nTrain, voxels, sim.trainBetas), matrix(nTrain, nOutAll, Ytrain), { signal });
    const sol = path.solve(alpha);
    // held-out trials for the fidelity figure: the stimulus-averaged vision and imagery betas
    const Xheld = matrix(36, voxels, concatRows([averageByStimulus(sim, 'vision'), averageByStimulus(sim, 'imagery')], 18 * voxels));
    const heads: Head[] = [];
    for (const h of HEAD_ORDER) {
      throwIfAborted(signal);
      report(`subject ${s}: head ${h}`);
      const [c0, c1] = headColumns(h);
      const q = c1 - c0;
      const part: RidgeSolution = {
        alpha,
        coef: matrix64(q, voxels, sol.coef.data.subarray(c0 * voxels, c1 * voxels)),
        intercept: sol.intercept.subarray(c0, c1),
      };
      const rr = reduceRank(part, Math.min(ranks[h], q, voxels), Xheld);
      heads.push(
        addHead(writer, s, {
          name: h,
          role: ROLES[h],
          outputShape: [...HEAD_SHAPES[h]],
          A: rr.A,
          B: rr.B,
          intercept: Float32Array.from(part.intercept),
          targetMean: stats.mean.subarray(c0, c1),
          targetStd: stats.std.subarray(c0, c1),
          inputNorm: 'none',
          outputNorm: h === 'retrieval' ? 'l2-token' : 'none',
          penalty: alpha,
          penaltySource,
          fidelity: { r2: rr.fidelityR2, trials: rr.fidelityTrials, description: 'R² of float16 rank-r vs full float64 predictions on 36 stimulus-averaged test patterns (18 vision + 18 imagery)' },
        }),
      );
    }
    subjects.push({ id: s, label: `Subject ${s} (simulated)`, role: 'decoded', voxelCount: voxels, betaDtype: 'float16', voxelToVertex, surfaces, rois, heads });
    step(`subject ${s} done`);
  }
  for (const s of tuning) {
    subjects.push({ id: s, label: `Subject ${s} (simulated, tuning only)`, role: 'tuning', voxelCount: voxels, betaDtype: 'float16', surfaces: [], rois: [], heads: [] });
  }
  subjects.sort((a, b) => a.id - b.id);

  // ---------- stimuli, features, gallery ----------
  report('writing stimuli, features and models');
  const stimuli: Stimulus[] = world.stimuli.map((st, i) => {
    const out: Stimulus = { id: st.id, name: st.name, set: st.set, cue: st.cue, caption: st.caption };
    const img = world.stimulusImages[i];
    if (img) out.image = writer.addTensor('stimuli/images.bin', img, 'uint8', [IMAGE_SIZE, IMAGE_SIZE, 3]);
    const vars = world.variantImages[i];
    if (vars.length) out.variants = writer.addTensor('stimuli/images.bin', concatU8(vars), 'uint8', [vars.length, IMAGE_SIZE, IMAGE_SIZE, 3]);
    return out;
  });
  const features: FeatureSet[] = HEAD_ORDER.map((h) => ({
    name: 'stimuli',
    head: h,
    values: writer.addTensor('features/stimuli.bin', world.stimulusFeatures[h], 'float32', [18, ...HEAD_SHAPES[h]]),
    ids: ALL_STIMULI,
  }));
  const galleryIds = Array.from({ length: nGallery }, (_, i) => i);
  features.push({
    name: 'gallery',
    head: 'image',
    values: writer.addTensor('features/gallery.bin', world.trainFeatures.image.subarray(0, nGallery * IMAGE_EMBED_DIM), 'float16', [nGallery, IMAGE_EMBED_DIM]),
    ids: galleryIds,
  });
  const gallery = {
    images: writer.addTensor('gallery/images.bin', concatU8(world.trainImages.slice(0, nGallery)), 'uint8', [nGallery, IMAGE_SIZE, IMAGE_SIZE, 3]),
    captions: world.trainCaptions.slice(0, nGallery),
  };
  const globalShard = 'simulation/world.bin';
  const semanticFromEmbedding = writer.addTensor(globalShard, world.semanticFromEmbedding, 'float32', [SEMANTIC_DIM, IMAGE_EMBED_DIM + 1]);
  const stimulusSemantic = writer.addTensor(globalShard, concatRows(world.stimulusSemantic, SEMANTIC_DIM), 'float32', [18, SEMANTIC_DIM]);

  // models: plain files next to the manifest (a model pack, see docs/model-packs.md), listed with hashes
  const models = [];
  for (const info of world.graphs.info) {
    const bytes = world.graphs.bytes[info.name];
    await sink.write(info.file, bytes);
    models.push({ ...info, bytes: bytes.byteLength, sha256: await sha256Hex(bytes) });
  }
  const vocab = vocabulary();
  const listing = { kind: 'simulated', note: 'demo stand-in encoders, not trained networks; see docs/simulation.md', seed, models, tokenizer: { vocabulary: vocab, pad: 0, bos: 1, eos: 2, unk: 3, length: HEAD_SHAPES.text[0] } };
  await sink.write('models/models.json', new TextEncoder().encode(JSON.stringify(listing, null, 1)));

  const extensions = {
    simulation: {
      kind: 'simulated',
      doc: 'docs/simulation.md',
      seed,
      trainImages: nTrain,
      semanticDim: SEMANTIC_DIM,
      energy: { grids: [...ENERGY_GRIDS], gridOffsets: GRID_OFFSETS.offsets, length: GRID_OFFSETS.total, orientationsDeg: [...ORIENTATIONS], cssExponent: CSS_EXPONENT },
      areas: AREAS.map((a) => ({ name: a, group: AREA_INFO[a].group, mix: AREA_MIX[a] })),
      imagery: { ...IMAGERY },
      noise: { ...NOISE },
      semanticFromEmbedding,
      stimulusSemantic,
      subjects: simBlocks,
      tuning: { alphas, scores: tuneScores, meanScores: Array.from(meanScores), chosen: alpha },
      models: 'models/models.json',
    },
  };

  // the demo model pack (docs/model-packs.md, docs/simulation.md): <bundle>/modelpack/, which the
  // reconstruct panel and `mirage reconstruct` look for next to the manifest
  throwIfAborted(signal);
  step('fitting the demo model pack');
  const createdAt = opts.createdAt ?? new Date().toISOString();
  await buildDemoModelPack(sink, {
    seed,
    encoders: world.graphs,
    training: { scenes: world.trainScenes, images: world.trainImages, features: world.trainFeatures },
    prefix: 'modelpack/',
    createdAt,
    signal,
    onProgress: (_d, _t, label) => report(`model pack: ${label}`),
  });
  throwIfAborted(signal);

  const command = opts.command ?? `mirage demo --seed ${seed} --voxels ${voxels}`;
  const manifest = await writer.finish({
    name: `MIRAGE Explorer demo (simulated, seed ${seed})`,
    description: 'SIMULATED NSD-Imagery experiment: procedural stimuli, simulated cortex and betas, demo ONNX encoders, ridge decoders. Not real data.',
    provenance: {
      kind: 'simulated',
      command,
      createdAt,
      generator: { name: 'mirage-explorer', version: '0.1.0' },
      seed,
      sources: [],
      notes: `simulated with seed ${seed}, ${voxels} voxels per subject, ${nTrain} training images; see docs/simulation.md`,
    },
    imageSize: IMAGE_SIZE,
    subjects,
    stimuli,
    trials,
    features,
    gallery,
    extensions,
  });
  done = total;
  report('done');
  return manifest;
}

function concatU8(parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
