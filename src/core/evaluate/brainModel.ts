// Brain correlation of reconstructions in a bundle: an encoding model predicts betas from each
// reconstruction, compared (Pearson r per ROI set) with the measured betas of the same subject,
// stimulus and condition averaged over repeats. Simulated bundles carry their true encoding model
// (`extensions.simulation`, read by src/core/simulate/groundTruth.ts), whose semantic drive needs the
// demo image encoder's embedding of the image; real bundles need an encoding-model pack (not built
// yet): `brainScorerFor` says so in `reason`.
import type { Manifest, TensorRef } from '../bundle/manifest.ts';
import { BundleError } from '../base/errors.ts';
import { hasGroundTruth, loadGroundTruth, type GroundTruth } from '../simulate/groundTruth.ts';
import { predictBetasFromImage } from '../simulate/encoding.ts';
import { brainCorrelations, brainSets, type BrainSet } from './brainCorrelation.ts';
import type { FeatureRunner } from './featurePacks.ts';
import { toRgb, toUint8, type FloatImage } from './image.ts';
import { resizeBilinear } from './resize.ts';
import type { EvalCondition } from './tables.ts';
import { checkEncodingPackForBundle, encodingPackCorrelations, encodingPackSets, type LoadedEncodingPack } from './encodingPack.ts';

export const NEEDS_ENCODING_PACK = 'brain correlation: needs an encoding-model pack (this bundle carries no encoding model; `mirage eval --encoding DIR`)';

/** What a brain scorer needs of a bundle (Bundle satisfies it). */
export interface BrainBundle {
  readonly manifest: Manifest;
  tensor(ref: TensorRef): Promise<ArrayLike<number> & { length: number }>;
  trialBetas(trialIndex: number): Promise<Float32Array>;
}

export interface BrainScorer {
  /** e.g. "simulation's ground-truth encoding model (SIMULATED)" */
  description: string;
  score(subject: number, condition: EvalCondition, stimulus: number, img: FloatImage): Promise<Record<BrainSet, number>>;
}

/** Mean betas of a subject's trials of one stimulus and condition. */
export async function conditionAveragedBetas(bundle: BrainBundle, subject: number, stimulus: number, condition: EvalCondition): Promise<Float32Array> {
  const idx: number[] = [];
  bundle.manifest.trials.forEach((t, i) => {
    if (t.subject === subject && t.stimulus === stimulus && t.condition === condition) idx.push(i);
  });
  if (!idx.length) throw new RangeError(`no ${condition} trials of stimulus ${stimulus} for subject ${subject}`);
  let acc: Float64Array | null = null;
  for (const i of idx) {
    const b = await bundle.trialBetas(i);
    acc ??= new Float64Array(b.length);
    for (let v = 0; v < b.length; v++) acc[v] += b[v];
  }
  return Float32Array.from(acc!, (x) => x / idx.length);
}

/**
 * The simulation's ground-truth model as a brain scorer. `imageEncoder` runs the demo image encoder
 * (NCHW float32 in [0,1] at `size`, the demo's IMAGE_SIZE), whose embedding drives the semantic part.
 */
export function simulatedBrainScorer(bundle: BrainBundle, imageEncoder: FeatureRunner, size: number): BrainScorer {
  const models = new Map<number, Promise<{ gt: GroundTruth; sets: Record<BrainSet, Int32Array> }>>();
  const measured = new Map<string, Promise<Float32Array>>();
  const model = (subject: number) => {
    let p = models.get(subject);
    if (!p) {
      p = (async () => {
        const gt = await loadGroundTruth(bundle, subject);
        const subj = bundle.manifest.subjects.find((s) => s.id === subject)!;
        return { gt, sets: brainSets(await bundleRois(bundle, subject), subj.voxelCount) };
      })();
      models.set(subject, p);
    }
    return p;
  };
  return {
    description: "the simulation's ground-truth encoding model (SIMULATED)",
    async score(subject, condition, stimulus, img) {
      const { gt, sets } = await model(subject);
      const key = `${subject}|${condition}|${stimulus}`;
      let m = measured.get(key);
      if (!m) measured.set(key, (m = conditionAveragedBetas(bundle, subject, stimulus, condition)));
      const rgb = toRgb(img.width === size && img.height === size ? img : resizeBilinear(img, size, size, { antialias: true }));
      const u8 = toUint8(rgb);
      const chw = new Float32Array(3 * size * size);
      for (let i = 0; i < size * size; i++) for (let c = 0; c < 3; c++) chw[c * size * size + i] = u8[i * 3 + c] / 255;
      const emb = (await imageEncoder(chw, [1, 3, size, size])).data;
      const pred = predictBetasFromImage(gt.model, u8, Float32Array.from(emb), gt.semanticFromEmbedding, size);
      return brainCorrelations(pred, await m, sets);
    },
  };
}

/** A scorer when the bundle carries a ground-truth model and an image encoder is given; else why not. */
export function brainScorerFor(bundle: BrainBundle, imageEncoder: FeatureRunner | null, size: number): { scorer: BrainScorer | null; reason: string } {
  if (!hasGroundTruth(bundle.manifest)) return { scorer: null, reason: NEEDS_ENCODING_PACK };
  if (!imageEncoder) return { scorer: null, reason: 'brain correlation: the simulation ground truth needs the demo image encoder (models/models.json next to the manifest)' };
  return { scorer: simulatedBrainScorer(bundle, imageEncoder, size), reason: "brain correlation: the simulation's ground-truth encoding model (SIMULATED; exact for this bundle)" };
}

/** A subject's ROIs from the bundle (voxel indices per ROI with its group). */
async function bundleRois(bundle: BrainBundle, subject: number) {
  const subj = bundle.manifest.subjects.find((s) => s.id === subject)!;
  return Promise.all(subj.rois.map(async (r) => ({ group: r.group, voxels: Int32Array.from(await bundle.tensor(r.voxels)) })));
}

/**
 * Encoding-model packs as a brain scorer: each pack predicts one subject's betas (checked against
 * the bundle's mask size up front); subjects without a pack score NaN (left out of the summaries).
 * `runnerFor` opens the pack's ONNX graph (an onnxruntime session in practice).
 */
export async function encodingPackScorer(
  bundle: BrainBundle & { source?: { label: string } },
  packs: LoadedEncodingPack[],
  runnerFor: (pack: LoadedEncodingPack) => Promise<FeatureRunner>,
): Promise<BrainScorer> {
  const bySubject = new Map<number, { pack: LoadedEncodingPack; run: FeatureRunner; sets: Record<BrainSet, Int32Array> }>();
  for (const pack of packs) {
    checkEncodingPackForBundle(pack, bundle.manifest, bundle.source?.label ?? 'the bundle');
    if (bySubject.has(pack.manifest.subject)) {
      throw new BundleError(`${pack.label}/encodingpack.json`, `a second encoding pack for subject ${pack.manifest.subject}`, { field: 'subject', expected: 'one pack per subject' });
    }
    const sets = encodingPackSets(pack, pack.rois ? null : await bundleRois(bundle, pack.manifest.subject));
    bySubject.set(pack.manifest.subject, { pack, run: await runnerFor(pack), sets });
  }
  const measured = new Map<string, Promise<Float32Array>>();
  const kinds = [...new Set(packs.map((p) => p.manifest.model.kind))].join('/');
  return {
    description: `encoding-model pack${packs.length > 1 ? 's' : ''} ${packs.map((p) => `"${p.manifest.name}" (subject ${p.manifest.subject})`).join(', ')}, ${kinds}`,
    async score(subject, condition, stimulus, img) {
      const e = bySubject.get(subject);
      if (!e) return { early: NaN, higher: NaN, all: NaN };
      const key = `${subject}|${condition}|${stimulus}`;
      let m = measured.get(key);
      if (!m) measured.set(key, (m = conditionAveragedBetas(bundle, subject, stimulus, condition)));
      return encodingPackCorrelations(e.pack, e.run, img, await m, e.sets);
    },
  };
}
