// Brain correlation (MindEye2 / MIRAGE): an encoding model predicts betas from each reconstruction;
// per sample, Pearson r between predicted and measured betas across the voxels of an ROI set
// (torchmetrics PearsonCorrCoef over the voxel axis). Sets: early visual (V1–hV4), higher visual,
// and all voxels (nsdgeneral). The encoding model itself is outside this module (simulated
// bundles carry their true one; real ones plug in a GNet-like pack).
import { pearson } from './correlation.ts';

export const BRAIN_SETS = ['early', 'higher', 'all'] as const;
export type BrainSet = (typeof BRAIN_SETS)[number];

export interface RoiVoxels {
  group: 'early' | 'higher' | 'other';
  /** voxel indices into the subject's voxel order */
  voxels: Int32Array | number[];
}

/** Voxel index sets per BrainSet from a subject's ROIs; 'all' is every voxel. Sorted, deduplicated. */
export function brainSets(rois: RoiVoxels[], voxelCount: number): Record<BrainSet, Int32Array> {
  const collect = (g: 'early' | 'higher') => {
    const s = new Set<number>();
    for (const r of rois) if (r.group === g) for (const v of r.voxels) {
      if (v < 0 || v >= voxelCount) throw new RangeError(`ROI voxel index ${v} outside 0..${voxelCount - 1}`);
      s.add(v);
    }
    return Int32Array.from([...s].sort((a, b) => a - b));
  };
  return { early: collect('early'), higher: collect('higher'), all: Int32Array.from({ length: voxelCount }, (_, i) => i) };
}

/** Pearson r between predicted and measured betas over `voxels`. */
export function brainCorrelation(predicted: ArrayLike<number>, measured: ArrayLike<number>, voxels: Int32Array): number {
  if (predicted.length !== measured.length) {
    throw new RangeError(`brainCorrelation: predicted has ${predicted.length} voxels, measured ${measured.length}`);
  }
  const a = new Float64Array(voxels.length);
  const b = new Float64Array(voxels.length);
  for (let k = 0; k < voxels.length; k++) {
    a[k] = predicted[voxels[k]];
    b[k] = measured[voxels[k]];
  }
  return pearson(a, b);
}

export function brainCorrelations(predicted: ArrayLike<number>, measured: ArrayLike<number>, sets: Record<BrainSet, Int32Array>): Record<BrainSet, number> {
  return {
    early: brainCorrelation(predicted, measured, sets.early),
    higher: brainCorrelation(predicted, measured, sets.higher),
    all: brainCorrelation(predicted, measured, sets.all),
  };
}
