// Summary statistics used by the tables: mean, standard error, MIRAGE's normalised average, and
// binomial confidence intervals for the human 2AFC mode.

export function mean(values: ArrayLike<number>): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i])) {
      s += values[i];
      n++;
    }
  }
  return n ? s / n : NaN;
}

/** Standard error of the mean: sample std (ddof = 1) / sqrt(n), over finite values. NaN for n < 2. */
export function standardError(values: ArrayLike<number>): number {
  const finite: number[] = [];
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) finite.push(values[i]);
  const n = finite.length;
  if (n < 2) return NaN;
  const m = finite.reduce((a, b) => a + b, 0) / n;
  let ss = 0;
  for (const v of finite) ss += (v - m) * (v - m);
  return Math.sqrt(ss / (n - 1)) / Math.sqrt(n);
}

export interface NormalisedScore {
  name: string;
  /** mean of the per-metric scaled scores, in [0, 1]; NaN when no metric varies */
  score: number;
  /** per-metric scaled score (NaN for metrics that were constant or missing) */
  perMetric: number[];
}

/**
 * MIRAGE appendix A.6.1: min-max scale every metric to [0, 1] across the compared set (inverted
 * where lower is better, so 1 is always best), then the plain mean over metrics. A metric with the
 * same value for every entry carries no ranking information and is left out of the mean (our
 * choice; the paper does not say).
 */
export function normalisedAverage(
  entries: { name: string; values: number[] }[],
  higherIsBetter: boolean[],
): NormalisedScore[] {
  const m = higherIsBetter.length;
  const lo = new Array<number>(m).fill(Infinity);
  const hi = new Array<number>(m).fill(-Infinity);
  for (const e of entries) {
    if (e.values.length !== m) throw new RangeError(`normalisedAverage: ${e.name} has ${e.values.length} values, expected ${m}`);
    e.values.forEach((v, k) => {
      if (Number.isFinite(v)) {
        lo[k] = Math.min(lo[k], v);
        hi[k] = Math.max(hi[k], v);
      }
    });
  }
  return entries.map((e) => {
    const perMetric = e.values.map((v, k) => {
      if (!Number.isFinite(v) || !(hi[k] > lo[k])) return NaN;
      const s = (v - lo[k]) / (hi[k] - lo[k]);
      return higherIsBetter[k] ? s : 1 - s;
    });
    return { name: e.name, score: mean(perMetric), perMetric };
  });
}

export interface BinomialInterval {
  successes: number;
  trials: number;
  proportion: number;
  lower: number;
  upper: number;
  level: number;
  method: 'wilson';
}

/** Two-sided z for a confidence level (0.95 -> 1.959964), by bisection on the normal CDF. */
export function zForLevel(level: number): number {
  const target = 1 - (1 - level) / 2;
  let lo = 0;
  let hi = 10;
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Standard normal CDF via erf (Abramowitz–Stegun 7.1.26 is too coarse; use a series/continued fraction). */
export function normalCdf(x: number): number {
  return 0.5 * (1 + erf(x / Math.SQRT2));
}

function erf(x: number): number {
  // Maclaurin series for |x| < 3, asymptotic complement beyond: accurate to ~1e-14 on the range used.
  const ax = Math.abs(x);
  let r: number;
  if (ax < 3) {
    let term = ax;
    let sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 200; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc continued fraction (Lentz)
    const x2 = ax * ax;
    let f = ax;
    let C = ax;
    let D = 0;
    for (let n = 1; n < 300; n++) {
      const an = n / 2;
      D = ax + an * D;
      D = 1 / D;
      C = ax + an / C;
      const delta = C * D;
      f *= delta;
      if (Math.abs(delta - 1) < 1e-16) break;
    }
    r = 1 - Math.exp(-x2) / (f * Math.sqrt(Math.PI));
  }
  return x < 0 ? -r : r;
}

/**
 * Wilson score interval for a binomial proportion (chosen over the normal approximation because it
 * stays inside [0, 1] and behaves for the small counts of a live audience).
 */
export function wilsonInterval(successes: number, trials: number, level = 0.95): BinomialInterval {
  if (!(trials >= 0) || successes < 0 || successes > trials) {
    throw new RangeError(`wilsonInterval: ${successes} successes of ${trials} trials`);
  }
  if (trials === 0) return { successes, trials, proportion: NaN, lower: 0, upper: 1, level, method: 'wilson' };
  const z = zForLevel(level);
  const p = successes / trials;
  const z2 = z * z;
  const denom = 1 + z2 / trials;
  const centre = (p + z2 / (2 * trials)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials));
  return { successes, trials, proportion: p, lower: Math.max(0, centre - half), upper: Math.min(1, centre + half), level, method: 'wilson' };
}
