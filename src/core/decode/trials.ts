// Gathering trial betas for decoding: several trials stacked as rows, or their repeats averaged
// into one row (MIRAGE's condition averaging averages betas, then decodes).
import { yieldEvery, YIELD_MS } from '../base/yield.ts';
import { averageRows } from './predict.ts';

/** What these helpers need from a Bundle (the loader's Bundle satisfies it). */
export interface BetaReader {
  trialBetas(trialIndex: number, opts?: { signal?: AbortSignal }): Promise<Float32Array>;
}

/** Betas of `trials` (indices into manifest.trials) as rows [trials.length, voxels]. */
export async function stackTrialBetas(bundle: BetaReader, trials: readonly number[], opts: { signal?: AbortSignal } = {}): Promise<Float32Array> {
  if (trials.length === 0) throw new RangeError('stackTrialBetas: no trials');
  let out: Float32Array | null = null;
  let p = 0;
  // Cached betas resolve at once (microtasks only): yield now and then so Ctrl-C is heard.
  const tick = yieldEvery(YIELD_MS, opts.signal);
  for (let i = 0; i < trials.length; i++) {
    await tick();
    const b = await bundle.trialBetas(trials[i], opts);
    if (!out) {
      p = b.length;
      out = new Float32Array(trials.length * p);
    } else if (b.length !== p) {
      throw new RangeError(`trial ${trials[i]} has ${b.length} betas, trial ${trials[0]} has ${p} (mixing subjects?)`);
    }
    out.set(b, i * p);
  }
  return out!;
}

/** The mean of the trials' betas, one row [voxels]. */
export async function averageTrialBetas(bundle: BetaReader, trials: readonly number[], opts: { signal?: AbortSignal } = {}): Promise<Float32Array> {
  const rows = await stackTrialBetas(bundle, trials, opts);
  return averageRows(rows, rows.length / trials.length, [trials.map((_, i) => i)]);
}
