// A small seeded PRNG so that every random draw in evaluation (retrieval candidates, 2AFC order)
// is reproducible from a seed written next to the result.
export type Rng = () => number;

/** mulberry32: 32-bit state, uniform in [0, 1). */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** k distinct indices from [0, n) (partial Fisher–Yates), like np.random.choice(n, k, replace=False). */
export function sampleWithoutReplacement(n: number, k: number, rng: Rng): number[] {
  if (k > n) throw new RangeError(`cannot draw ${k} of ${n} without replacement`);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng() * (n - i));
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx.slice(0, k);
}
