// Decoding every trial of a subject (or each stimulus×condition's averaged repeats), optionally
// with MIRAGE's normalisation: one decodeCondition per condition (each condition is its own batch,
// with its rule for missing statistics), rows put back in the manifest's order (single trials) or
// stimulus-then-condition order (averages). Used by `mirage decode`.
import { BundleError } from '../base/errors.ts';
import type { StepProgress } from '../base/progress.ts';
import type { Condition, HeadName } from '../bundle/manifest.ts';
import type { DecoderBackend } from './backend.ts';
import { decodeCondition, subjectHeads, type ConditionBundle, type DecodedRow, type HeadNormalization } from './decodeCondition.ts';
import { HeadCache } from './headCache.ts';
import { groupRepeats, type NormalizationBatch } from './predict.ts';

export type { DecodedRow };

export interface DecodeSubjectOptions {
  subject: number;
  /** Default: every head of the subject. */
  heads?: HeadName[];
  /** Average each stimulus×condition's repeats (betas averaged, then decoded). */
  average?: boolean;
  /** Apply MIRAGE's normalisation; the batch is all rows of one condition. */
  normalize?: boolean;
  /** Keep only these conditions (default all). */
  conditions?: Condition[];
  /** Rows per backend call (bounds GPU memory). */
  chunkRows?: number;
  signal?: AbortSignal;
  onProgress?: StepProgress;
}

/** One condition's batch of a head: what the normalisation used, or why the head is raw there. */
export type ConditionNormalization = { condition: Condition; rows: number[] } & (NormalizationBatch | { missing: string });

export interface DecodedHead {
  name: HeadName;
  outputShape: number[];
  /** Row-major [rows.length, ...outputShape]. */
  values: Float32Array;
  /** One entry per condition batch when normalised. */
  normalization?: ConditionNormalization[];
}

export interface DecodedSubject {
  subject: number;
  backend: DecoderBackend['name'];
  averaged: boolean;
  normalized: boolean;
  rows: DecodedRow[];
  heads: DecodedHead[];
}

const flat = (n: HeadNormalization) => ('batch' in n ? n.batch : n);

export async function decodeSubject(bundle: ConditionBundle, backend: DecoderBackend, opts: DecodeSubjectOptions): Promise<DecodedSubject> {
  const subj = bundle.subject(opts.subject);
  const average = Boolean(opts.average);
  const keep = (c: Condition) => !opts.conditions || opts.conditions.includes(c);
  // The output order: stimulus then condition for averages, the manifest's trial order otherwise;
  // each row's first trial identifies it in its condition's batch.
  const rows: DecodedRow[] = average
    ? groupRepeats(bundle.manifest.trials, subj.id)
        .filter((g) => keep(g.condition))
        .map((g) => ({ trials: g.trials, stimulus: g.stimulus, condition: g.condition }))
    : bundle.manifest.trials.flatMap((t, i) =>
        t.subject === subj.id && keep(t.condition) ? [{ trials: [i], stimulus: t.stimulus, condition: t.condition, run: t.run, repeat: t.repeat }] : [],
      );
  if (!rows.length) throw new BundleError('manifest.json', `subject ${subj.id} has no trials to decode`, { field: 'trials' });
  const specs = subjectHeads(bundle.manifest, subj, opts.heads);
  const rowOf = new Map(rows.map((r, i) => [r.trials[0], i]));
  const heads: DecodedHead[] = specs.map((s) => ({
    name: s.name,
    outputShape: [...s.outputShape],
    values: new Float32Array(rows.length * s.outputShape.reduce((a, b) => a * b, 1)),
    ...(opts.normalize ? { normalization: [] as ConditionNormalization[] } : {}),
  }));

  const cache = new HeadCache(backend);
  const total = rows.reduce((n, r) => n + r.trials.length, 0) + specs.length * rows.length;
  let before = 0;
  // Conditions in the order they first appear in the output (the order decode.json lists batches).
  for (const condition of [...new Set(rows.map((r) => r.condition))]) {
    const dec = await decodeCondition(bundle, cache, {
      subject: subj.id,
      condition,
      heads: specs.map((s) => s.name),
      average,
      chunkRows: opts.chunkRows,
      signal: opts.signal,
      onProgress: opts.onProgress && ((d, _t, label) => opts.onProgress!(before + d, total, label)),
    });
    before += dec.rows.reduce((n, r) => n + r.trials.length, 0) + specs.length * dec.rows.length;
    const idx = dec.rows.map((r) => rowOf.get(r.trials[0])!);
    dec.heads.forEach((h, k) => {
      const q = h.raw.length / dec.rows.length;
      const from = opts.normalize ? h.values : h.raw;
      idx.forEach((ri, j) => heads[k].values.set(from.subarray(j * q, (j + 1) * q), ri * q));
      heads[k].normalization?.push({ condition, rows: idx, ...flat(h.normalization) });
    });
  }
  return { subject: subj.id, backend: backend.name, averaged: average, normalized: Boolean(opts.normalize), rows, heads };
}
