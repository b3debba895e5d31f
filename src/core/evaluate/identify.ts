// Ranking candidates (stimuli or gallery images) against one decoded embedding by cosine
// similarity: the "which image is this?" view of the decode worker, and the single-query form of
// top-1 retrieval (retrieval.ts).
export interface RankedCandidate {
  /** stimulus id or gallery index (from the feature set's `ids`) */
  id: number;
  /** row in the feature matrix */
  row: number;
  /** cosine similarity */
  score: number;
}

/**
 * `values` is the feature set flattened row-major: ids.length rows of query.length values.
 * Returns every candidate, best first (ties keep row order).
 */
export function rankByCosine(query: ArrayLike<number>, values: ArrayLike<number>, ids: readonly number[]): RankedCandidate[] {
  const d = query.length;
  if (d === 0) throw new RangeError('rankByCosine: empty query');
  if (values.length !== ids.length * d) {
    throw new RangeError(`rankByCosine: feature set has ${values.length} values, expected ${ids.length} rows x ${d}`);
  }
  let qq = 0;
  for (let k = 0; k < d; k++) qq += query[k] * query[k];
  const qn = Math.sqrt(qq);
  const out: RankedCandidate[] = ids.map((id, row) => {
    let dot = 0;
    let vv = 0;
    const o = row * d;
    for (let k = 0; k < d; k++) {
      const v = values[o + k];
      dot += query[k] * v;
      vv += v * v;
    }
    const den = qn * Math.sqrt(vv);
    return { id, row, score: den > 0 ? dot / den : 0 };
  });
  return out.sort((a, b) => b.score - a.score || a.row - b.row);
}
