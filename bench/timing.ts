// Timing shared by every benchmark, in Node and in benchmark pages (no Node built-ins here).

/** Times `fn` `reps` times after `warmup` runs; returns per-run milliseconds and summary stats. */
export async function timeIt(fn: () => unknown | Promise<unknown>, reps: number, warmup = 1) {
  for (let i = 0; i < warmup; i++) await fn();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  const sorted = [...ms].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  return { ms, p50: q(0.5), p95: q(0.95), mean: ms.reduce((a, b) => a + b, 0) / ms.length };
}
