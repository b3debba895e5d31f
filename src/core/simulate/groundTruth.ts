// Reading the SIMULATED ground-truth encoding model back from a demo bundle's `extensions.simulation`
// block, so evaluation (brain correlation) can predict betas for any image with predictBetasFromImage.
import { BundleError } from '../base/errors.ts';
import type { Manifest, TensorRef } from '../bundle/manifest.ts';
import type { EncodingModel } from './encoding.ts';

export interface TensorReader {
  tensor(ref: TensorRef): Promise<ArrayLike<number> & { length: number }>;
}

export interface GroundTruth {
  model: EncodingModel;
  /** [SEMANTIC_DIM, embedDim + 1], bias last. */
  semanticFromEmbedding: Float32Array;
}

type ModelRefs = Record<keyof Omit<EncodingModel, 'nVox'>, TensorRef>;
interface SimulationBlock {
  semanticFromEmbedding: TensorRef;
  subjects: { subject: number; model: ModelRefs }[];
}

/** True when the bundle carries a simulation ground truth (simulated demo bundles do). */
export function hasGroundTruth(m: Manifest): boolean {
  const s = m.extensions?.simulation as Partial<SimulationBlock> | undefined;
  return !!s && Array.isArray(s.subjects) && !!s.semanticFromEmbedding;
}

export async function loadGroundTruth(bundle: TensorReader & { manifest: Manifest }, subject: number): Promise<GroundTruth> {
  const sim = bundle.manifest.extensions?.simulation as SimulationBlock | undefined;
  if (!sim || !Array.isArray(sim.subjects)) {
    throw new BundleError('manifest.json', 'no simulation ground truth in this bundle', { field: 'extensions.simulation', expected: 'a simulated demo bundle' });
  }
  const entry = sim.subjects.find((s) => s.subject === subject);
  if (!entry) {
    throw new BundleError('manifest.json', `no ground-truth model for subject ${subject}`, { field: 'extensions.simulation.subjects', expected: `one of ${sim.subjects.map((s) => s.subject).join(', ')}` });
  }
  const r = entry.model;
  const f32 = async (ref: TensorRef) => Float32Array.from(await bundle.tensor(ref));
  const i32 = async (ref: TensorRef) => Int32Array.from(await bundle.tensor(ref));
  const model: EncodingModel = {
    nVox: r.quality.shape[0],
    prfStart: await i32(r.prfStart),
    prfCell: await i32(r.prfCell),
    prfWeight: await f32(r.prfWeight),
    oriWeight: await f32(r.oriWeight),
    semWeight: await f32(r.semWeight),
    mix: await f32(r.mix),
    quality: await f32(r.quality),
    sharedLoading: await f32(r.sharedLoading),
    energyMean: await f32(r.energyMean),
    energyStd: await f32(r.energyStd),
    semMean: await f32(r.semMean),
    semStd: await f32(r.semStd),
  };
  return { model, semanticFromEmbedding: await f32(sim.semanticFromEmbedding) };
}
