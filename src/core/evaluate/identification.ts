// Two-way identification and per-sample feature distances, from feature matrices (one row per
// image). Semantics of MindEye/MIRAGE's `two_way_identification`: r = corrcoef between every
// ground-truth row j and reconstruction row i (float64); for each reconstruction i, success = the
// fraction of the other N-1 ground truths whose correlation with i is below the congruent r[i,i].
//
// MIRAGE's published evaluation script subtracts 1 from that count ("to exclude the
// self-comparison", although r[i,i] < r[i,i] is already false), which lowers every score by
// 1/(N-1) — chance becomes (N/2-1)/(N-1), 40.9% for N=12. `variant: 'mirage'` reproduces it so
// that numbers can stand beside MIRAGE Table 1; `variant: 'mindeye'` (default) is the form of
// docs/background.md §5 with chance 50%.
import type { Matrix } from '../tensor/matrix.ts';
import { correlationDistance, pearson } from './correlation.ts';

export type IdentificationVariant = 'mindeye' | 'mirage';

function rows(m: Matrix): Float64Array[] {
  const out: Float64Array[] = [];
  for (let i = 0; i < m.rows; i++) out.push(Float64Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)));
  return out;
}

function checkPair(gt: Matrix, rec: Matrix, what: string): void {
  if (gt.rows !== rec.rows || gt.cols !== rec.cols) {
    throw new RangeError(`${what}: ground truth is ${gt.rows}x${gt.cols} but reconstructions are ${rec.rows}x${rec.cols}`);
  }
}

/** r[j][i] = Pearson(gt row j, rec row i). */
export function crossCorrelation(gt: Matrix, rec: Matrix): Float64Array[] {
  checkPair(gt, rec, 'crossCorrelation');
  const g = rows(gt);
  const r = rows(rec);
  return g.map((gj) => Float64Array.from(r, (ri) => pearson(gj, ri)));
}

/** Per-reconstruction success rate in [0, 1] (multiply by 100 for Table-1 percentages). */
export function twoWayIdentification(gt: Matrix, rec: Matrix, variant: IdentificationVariant = 'mindeye'): number[] {
  const n = gt.rows;
  if (n < 2) throw new RangeError('twoWayIdentification: needs at least 2 samples');
  const r = crossCorrelation(gt, rec);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const congruent = r[i][i];
    let count = 0;
    for (let j = 0; j < n; j++) if (r[j][i] < congruent) count++;
    if (variant === 'mirage') count -= 1;
    out.push(count / (n - 1));
  }
  return out;
}

/** Per-sample correlation distance (1 - r) of matching rows: EfficientNet-B1 and SwAV metrics. */
export function rowCorrelationDistances(gt: Matrix, rec: Matrix): number[] {
  checkPair(gt, rec, 'rowCorrelationDistances');
  const g = rows(gt);
  const r = rows(rec);
  return g.map((gi, i) => correlationDistance(gi, r[i]));
}
