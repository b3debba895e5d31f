// Pearson correlation and its relatives, in float64 like numpy's corrcoef / scipy's
// spatial.distance.correlation (both upcast float32 input to float64).
export type NumArray = ArrayLike<number>;

/** Centred cross- and auto-products of two equal-length vectors (two-pass: means first). */
function centredSums(a: NumArray, b: NumArray, fn: string): { sab: number; saa: number; sbb: number } {
  const n = a.length;
  if (b.length !== n) throw new RangeError(`${fn}: lengths differ (${n} vs ${b.length})`);
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return { sab, saa, sbb };
}

/** Pearson r of two equal-length vectors. NaN when a side is constant. */
export function pearson(a: NumArray, b: NumArray): number {
  if (b.length === a.length && a.length < 2) return NaN;
  const { sab, saa, sbb } = centredSums(a, b, 'pearson');
  const r = sab / Math.sqrt(saa * sbb);
  // np.corrcoef clips to [-1, 1]
  return r > 1 ? 1 : r < -1 ? -1 : r;
}

/** scipy.spatial.distance.correlation: |1 - r|. Lower is better. (scipy computes in the input dtype; we use float64.) */
export function correlationDistance(a: NumArray, b: NumArray): number {
  const { sab, saa, sbb } = centredSums(a, b, 'correlationDistance');
  // scipy returns |1 - r| "to avoid small negative values due to rounding"
  return Math.abs(1 - sab / Math.sqrt(saa * sbb));
}

export { cosine } from '../tensor/vector.ts';
