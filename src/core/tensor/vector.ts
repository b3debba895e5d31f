// Vector similarity used across the flow (identification, retrieval pooling, perturbation charts):
// one definition so every screen ranks by the same number. float64 accumulation.

export function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/** Cosine similarity; 0 when either side is the zero vector (no direction to compare). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`cosine: lengths differ (${a.length} vs ${b.length})`);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

/**
 * Largest absolute difference relative to the reference's largest magnitude: the one error figure
 * the parity tests and benchmarks report (scale-free, so float32 and float64 results compare).
 */
export function maxRelativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length)
    throw new RangeError(`maxRelativeError: lengths differ (${got.length} vs ${want.length})`);
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

/**
 * dst = src with each row of `width` values scaled to unit L2 length (an all-zero row stays zero).
 * The norm is taken from src, so src may be float64 while dst is float32, and dst may be src
 * (in place). Used for the heads' 'l2' input and 'l2-token' output normalisation.
 */
export function l2NormalizeRows(src: ArrayLike<number>, dst: Float32Array, width: number): Float32Array {
  for (let o = 0; o < src.length; o += width) {
    let ss = 0;
    for (let j = 0; j < width; j++) ss += src[o + j] * src[o + j];
    const s = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    for (let j = 0; j < width; j++) dst[o + j] = src[o + j] * s;
  }
  return dst;
}
