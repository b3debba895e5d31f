// Shapes the cortex core works on. `FactoredHead` is the part of decode's `LoadedHead` the
// linear-change engine needs (LoadedHead is assignable to it), so cortex/ depends on the
// decode interface only structurally and can be tested without a bundle.
import type { Head } from '../bundle/manifest.ts';

export interface FactoredHead {
  spec: Pick<Head, 'name' | 'rank' | 'outputShape' | 'inputNorm' | 'outputNorm'>;
  /** float32 [nVox, rank], row-major. */
  A: Float32Array;
  /** float32 [rank, outSize], row-major. */
  B: Float32Array;
  /** float32 [outSize]. */
  intercept: Float32Array;
}

/**
 * A change of activity confined to a set of voxels: `values[j]` is added to voxel `indices[j]`.
 * Indices are sorted ascending and unique; every perturbation and the engine use this form so
 * the cost of an update scales with the region, not the cortex.
 */
export interface RegionDelta {
  indices: Int32Array;
  values: Float32Array;
}

export function headOutSize(h: Pick<FactoredHead, 'spec'>): number {
  return h.spec.outputShape.reduce((a, b) => a * b, 1);
}

/** Sorted, de-duplicated copy of voxel indices. */
export function sortedUnique(indices: ArrayLike<number>): Int32Array {
  const a = Int32Array.from(indices).sort();
  let n = 0;
  for (let i = 0; i < a.length; i++) if (i === 0 || a[i] !== a[i - 1]) a[n++] = a[i];
  return a.slice(0, n);
}
