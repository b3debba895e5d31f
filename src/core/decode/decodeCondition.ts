// Decoding one condition of one subject the MIRAGE way, in one place: every caller that shows or
// uses normalised predictions (the decode worker, the generation service, `mirage decode`,
// `mirage reconstruct`) goes through decodeCondition, so they all name the same batch and follow the
// same rule when a head has no training-target statistics.
//
//  1. Rows: each stimulus's repeats in this condition averaged (betas averaged, then decoded), one
//     row per stimulus — or, with average: false, every single trial of the condition.
//  2. Raw predictions: the backend's output (after the head's input/output norms).
//  3. MIRAGE's normalisation over the batch of all those rows: per output dimension
//     (pred − batch mean) / batch std (population) × training-target std + training-target mean,
//     then the per-token L2 norm again for 'l2-token' heads (the rescaling undoes unit norms).
//  4. Missing statistics (no targetMean or no targetStd in manifest.json): the head's values are
//     its raw predictions and its `normalization` is `{ missing: reason }`. Never an error (a
//     bundle without statistics still decodes), never silent (every caller shows the reason).
import { BundleError, throwIfAborted } from '../base/errors.ts';
import type { StepProgress } from '../base/progress.ts';
import { yieldEvery, YIELD_MS } from '../base/yield.ts';
import type { Condition, Head, HeadName, Manifest, Subject } from '../bundle/manifest.ts';
import type { HeadCache, HeadStats } from './headCache.ts';
import { applyOutputNorm, averageRows, batchStats, groupRepeats, headOutputSize, normalizePredictions, type NormalizationBatch, type TensorReader } from './predict.ts';
import { stackTrialBetas, type BetaReader } from './trials.ts';

/** Per head: the batch its normalisation used, or why it was left raw. */
export type HeadNormalization = { batch: NormalizationBatch } | { missing: string };

/** One decoded row: a stimulus's averaged repeats, or one trial. */
export interface DecodedRow {
  /** Indices into manifest.trials (the averaged repeats, or the one trial). */
  trials: number[];
  stimulus: number;
  condition: Condition;
  /** Run label and repeat index (single trials only). */
  run?: string;
  repeat?: number;
}

export interface ConditionHead {
  name: HeadName;
  spec: Head;
  outputShape: number[];
  /** Row-major [rows, ...outputShape]: the backend's predictions. */
  raw: Float32Array;
  /** MIRAGE's normalisation before the per-token L2 norm ('l2-token' heads); `raw` when missing. */
  normalized: Float32Array;
  /** What downstream uses: `normalized` with the head's output norm re-applied; `raw` when missing. */
  values: Float32Array;
  /**
   * Per output dimension, the slope of the affine map the normalisation applied (targetStd / batch
   * std, 0 where the batch std is 0); null when missing. A raw change Δ of a prediction moves the
   * normalised value by Δ·slope with the batch held fixed (the cortex's perturbations use it).
   */
  slope: Float32Array | null;
  normalization: HeadNormalization;
}

export interface DecodedCondition {
  subject: number;
  condition: Condition;
  /** Repeats averaged per stimulus (MIRAGE) or single trials. */
  averaged: boolean;
  rows: DecodedRow[];
  /** The batch's name, e.g. "18 stimuli × imagery, subject 1, repeats averaged (8 per stimulus)". */
  batch: string;
  heads: ConditionHead[];
  timing: {
    /** Milliseconds reading and averaging betas. */
    betasMs: number;
    /** Milliseconds loading and uploading heads not yet on the backend. */
    headsMs: number;
    /** Milliseconds in backend.predict and the normalisation. */
    predictMs: number;
  };
}

export interface DecodeConditionOptions {
  subject: number;
  condition: Condition;
  /** Default: every head of the subject. */
  heads?: readonly HeadName[];
  /** Default true (MIRAGE): one row per stimulus, its repeats averaged. false: every single trial. */
  average?: boolean;
  /** Rows per backend call (bounds GPU memory). */
  chunkRows?: number;
  signal?: AbortSignal;
  onProgress?: StepProgress;
}

export type ConditionBundle = TensorReader & BetaReader & { manifest: Manifest; subject(id: number): Subject };

/** The rows of a condition's batch, in order (stimulus id order for averages, manifest order for trials). */
export function conditionRows(manifest: Manifest, subject: number, condition: Condition, average: boolean): DecodedRow[] {
  if (average) {
    return groupRepeats(manifest.trials, subject)
      .filter((g) => g.condition === condition)
      .map((g) => ({ trials: g.trials, stimulus: g.stimulus, condition }));
  }
  return manifest.trials.flatMap((t, i) =>
    t.subject === subject && t.condition === condition ? [{ trials: [i], stimulus: t.stimulus, condition, run: t.run, repeat: t.repeat }] : [],
  );
}

/** The one name of a batch, shown next to normalised predictions wherever they appear. */
export function batchName(subject: number, condition: Condition, rows: readonly DecodedRow[], averaged: boolean): string {
  if (!averaged) return `${rows.length} single trials × ${condition}, subject ${subject}`;
  const repeats = [...new Set(rows.map((r) => r.trials.length))].sort((a, b) => a - b).join('/');
  return `${rows.length} stimuli × ${condition}, subject ${subject}, repeats averaged (${repeats} per stimulus)`;
}

/**
 * Per output dimension of a [rows, q] batch: targetStd / population std over the rows (float64, as
 * normalizePredictions computes it), 0 where the batch std is 0 (normalisation sends that dimension
 * to the target mean whatever the prediction, so a change there changes nothing).
 */
export function normalizationSlope(pred: Float32Array, rows: number, q: number, targetStd: ArrayLike<number>): Float32Array {
  const { sd } = batchStats(pred, rows, q);
  return Float32Array.from(sd, (s, o) => (s > 0 ? targetStd[o] / s : 0));
}

/** Steps 3 and 4 above for one head's raw batch: the one rule, also used for single-trial batches. */
export function normalizeHead(
  head: HeadStats,
  raw: Float32Array,
  rows: number,
  batch: string,
  subject: number,
): Pick<ConditionHead, 'normalized' | 'values' | 'slope' | 'normalization'> {
  const { spec, targetMean, targetStd } = head;
  if (!targetMean || !targetStd) {
    const what = !targetMean && !targetStd ? 'targetMean or targetStd' : !targetMean ? 'targetMean' : 'targetStd';
    const missing = `head "${spec.name}" of subject ${subject} has no training-target ${what} in manifest.json: decoded raw, not normalised`;
    return { normalized: raw, values: raw, slope: null, normalization: { missing } };
  }
  const q = headOutputSize(spec);
  const norm = normalizePredictions(raw, rows, q, targetMean, targetStd, batch);
  const values = applyOutputNorm(head, norm.values.slice());
  return { normalized: norm.values, values, slope: normalizationSlope(raw, rows, q, targetStd), normalization: { batch: norm.batch } };
}

/** The subject's head specs by name, or a BundleError naming the head and the ones there are. */
export function subjectHeads(manifest: Manifest, subj: Subject, names?: readonly HeadName[]): Head[] {
  return (names ?? subj.heads.map((h) => h.name)).map((n) => {
    const h = subj.heads.find((x) => x.name === n);
    if (!h) {
      throw new BundleError('manifest.json', `subject ${subj.id} has no "${n}" head`, {
        field: `subjects[${manifest.subjects.indexOf(subj)}].heads`,
        expected: subj.heads.map((x) => x.name).join(', ') || 'at least one head',
      });
    }
    return h;
  });
}

/** Decodes one condition of one subject the MIRAGE way (see the top of this file). */
export async function decodeCondition(bundle: ConditionBundle, cache: HeadCache, opts: DecodeConditionOptions): Promise<DecodedCondition> {
  const { subject, condition } = opts;
  const averaged = opts.average ?? true;
  const subj = bundle.subject(subject);
  const rows = conditionRows(bundle.manifest, subj.id, condition, averaged);
  if (!rows.length) throw new BundleError('manifest.json', `subject ${subj.id} has no ${condition} trials to decode`, { field: 'trials' });
  const specs = subjectHeads(bundle.manifest, subj, opts.heads);
  const batch = batchName(subj.id, condition, rows, averaged);
  const allTrials = rows.flatMap((r) => r.trials);
  const total = allTrials.length + specs.length * rows.length;
  const t0 = performance.now();

  const stacked = await stackTrialBetas(bundle, allTrials, { signal: opts.signal });
  let done = allTrials.length;
  opts.onProgress?.(done, total, 'betas');
  const p = subj.voxelCount;
  let k = 0;
  const X = averaged ? averageRows(stacked, p, rows.map((r) => r.trials.map(() => k++))) : stacked;
  const t1 = performance.now();

  const stats: HeadStats[] = [];
  for (const spec of specs) {
    throwIfAborted(opts.signal);
    stats.push(await cache.use(bundle, subj.id, spec));
  }
  const t2 = performance.now();

  const chunk = Math.max(1, opts.chunkRows ?? 64);
  const heads: ConditionHead[] = [];
  // The js and cpu backends compute a chunk synchronously: yield between chunks so Ctrl-C is heard.
  const tick = yieldEvery(YIELD_MS, opts.signal);
  for (const head of stats) {
    const q = headOutputSize(head.spec);
    const raw = new Float32Array(rows.length * q);
    for (let r0 = 0; r0 < rows.length; r0 += chunk) {
      await tick();
      const n = Math.min(chunk, rows.length - r0);
      raw.set(await cache.backend.predict(head.spec.name, X.subarray(r0 * p, (r0 + n) * p), n), r0 * q);
      done += n;
      opts.onProgress?.(done, total, head.spec.name);
    }
    heads.push({ name: head.spec.name, spec: head.spec, outputShape: [...head.spec.outputShape], raw, ...normalizeHead(head, raw, rows.length, batch, subj.id) });
  }
  const t3 = performance.now();
  return { subject: subj.id, condition, averaged, rows, batch, heads, timing: { betasMs: t1 - t0, headsMs: t2 - t1, predictMs: t3 - t2 } };
}
