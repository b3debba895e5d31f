// Top-1 retrieval as MindEye2 reports it: draw `candidates` (300) samples at random, compare every
// brain-decoded embedding with every image embedding of the draw by cosine similarity; forward =
// brain -> image (is the best image the right one?), backward = image -> brain; average over
// `draws` (30) random draws. Chance is 1/candidates. Seeded, so results are reproducible.
import type { Matrix } from '../tensor/matrix.ts';
import { mulberry32, sampleWithoutReplacement } from '../base/rng.ts';

export interface RetrievalOptions {
  candidates?: number;
  draws?: number;
  seed?: number;
}

export interface RetrievalResult {
  forward: number;
  backward: number;
  /** per-draw accuracies, for standard errors across draws */
  forwardDraws: number[];
  backwardDraws: number[];
  candidates: number;
  draws: number;
  seed: number;
}

function normalisedRows(m: Matrix): Float64Array[] {
  const out: Float64Array[] = [];
  for (let i = 0; i < m.rows; i++) {
    const r = Float64Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols));
    let s = 0;
    for (const v of r) s += v * v;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let k = 0; k < r.length; k++) r[k] *= inv;
    out.push(r);
  }
  return out;
}

export function top1Retrieval(brain: Matrix, image: Matrix, opts: RetrievalOptions = {}): RetrievalResult {
  if (brain.rows !== image.rows || brain.cols !== image.cols) {
    throw new RangeError(`top1Retrieval: brain ${brain.rows}x${brain.cols} vs image ${image.rows}x${image.cols}`);
  }
  const draws = opts.draws ?? 30;
  const seed = opts.seed ?? 0;
  const k = Math.min(opts.candidates ?? 300, brain.rows);
  const rng = mulberry32(seed);
  const b = normalisedRows(brain);
  const im = normalisedRows(image);
  const forwardDraws: number[] = [];
  const backwardDraws: number[] = [];
  const sim = new Float64Array(k * k);
  for (let d = 0; d < draws; d++) {
    const pick = sampleWithoutReplacement(brain.rows, k, rng);
    for (let i = 0; i < k; i++) {
      const bi = b[pick[i]];
      for (let j = 0; j < k; j++) {
        const ij = im[pick[j]];
        let s = 0;
        for (let t = 0; t < bi.length; t++) s += bi[t] * ij[t];
        sim[i * k + j] = s; // brain i vs image j
      }
    }
    let fwd = 0;
    let bwd = 0;
    for (let i = 0; i < k; i++) {
      let best = 0;
      for (let j = 1; j < k; j++) if (sim[i * k + j] > sim[i * k + best]) best = j;
      if (best === i) fwd++;
      let bestB = 0;
      for (let j = 1; j < k; j++) if (sim[j * k + i] > sim[bestB * k + i]) bestB = j;
      if (bestB === i) bwd++;
    }
    forwardDraws.push(fwd / k);
    backwardDraws.push(bwd / k);
  }
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  return { forward: mean(forwardDraws), backward: mean(backwardDraws), forwardDraws, backwardDraws, candidates: k, draws, seed };
}
