// Decoding every trial of a subject (or each stimulus×condition's averaged repeats) with a
// DecoderBackend, optionally with MIRAGE's batch normalisation. Shared by `mirage decode` and
// anything else that needs a whole subject's predictions at once.
import { AbortError, BundleError } from '../base/errors.ts';
import type { Condition, HeadName, Manifest, Subject } from '../bundle/manifest.ts';
import type { DecoderBackend } from './backend.ts';
import {
  applyOutputNorm,
  averageRows,
  groupRepeats,
  headOutputSize,
  loadHead,
  normalizePredictions,
  type NormalizationBatch,
  type TensorReader,
} from './predict.ts';
import { stackTrialBetas, type BetaReader } from './trials.ts';

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
  onProgress?: (done: number, total: number, label: string) => void;
}

export interface DecodedRow {
  /** Indices into manifest.trials (one, or the averaged repeats). */
  trials: number[];
  stimulus: number;
  condition: Condition;
  /** Run label and repeat index (single trials only). */
  run?: string;
  repeat?: number;
}

export interface DecodedHead {
  name: HeadName;
  outputShape: number[];
  /** Row-major [rows.length, ...outputShape]. */
  values: Float32Array;
  /** One entry per condition batch when normalised. */
  normalization?: (NormalizationBatch & { condition: Condition; rows: number[] })[];
}

export interface DecodedSubject {
  subject: number;
  backend: DecoderBackend['name'];
  averaged: boolean;
  normalized: boolean;
  rows: DecodedRow[];
  heads: DecodedHead[];
}

type BundleLike = TensorReader & BetaReader & { manifest: Manifest; subject(id: number): Subject };

export async function decodeSubject(bundle: BundleLike, backend: DecoderBackend, opts: DecodeSubjectOptions): Promise<DecodedSubject> {
  const subj = bundle.subject(opts.subject);
  const trials = bundle.manifest.trials;
  const keep = (c: Condition) => !opts.conditions || opts.conditions.includes(c);
  const rows: DecodedRow[] = opts.average
    ? groupRepeats(trials, subj.id)
        .filter((g) => keep(g.condition))
        .map((g) => ({ trials: g.trials, stimulus: g.stimulus, condition: g.condition }))
    : trials.flatMap((t, i) =>
        t.subject === subj.id && keep(t.condition) ? [{ trials: [i], stimulus: t.stimulus, condition: t.condition, run: t.run, repeat: t.repeat }] : [],
      );
  if (!rows.length) throw new BundleError('manifest.json', `subject ${subj.id} has no trials to decode`, { field: 'trials' });
  const names = opts.heads ?? subj.heads.map((h) => h.name);
  const specs = names.map((n) => {
    const h = subj.heads.find((x) => x.name === n);
    if (!h) {
      throw new BundleError('manifest.json', `subject ${subj.id} has no "${n}" head`, {
        field: `subjects[${bundle.manifest.subjects.indexOf(subj)}].heads`,
        expected: subj.heads.map((x) => x.name).join(', ') || 'at least one head',
      });
    }
    return h;
  });

  // Betas, in row order (averaged groups: mean of the repeats' betas).
  const allTrials = [...new Set(rows.flatMap((r) => r.trials))];
  const total = allTrials.length + specs.length * rows.length;
  let done = 0;
  const betaRows = new Map<number, number>();
  allTrials.forEach((t, i) => betaRows.set(t, i));
  const stacked = await stackTrialBetas(bundle, allTrials, { signal: opts.signal });
  done += allTrials.length;
  opts.onProgress?.(done, total, 'betas');
  const p = subj.voxelCount;
  const X = opts.average ? averageRows(stacked, p, rows.map((r) => r.trials.map((t) => betaRows.get(t)!))) : stacked;

  const chunk = Math.max(1, opts.chunkRows ?? 64);
  const heads: DecodedHead[] = [];
  for (const spec of specs) {
    const head = await loadHead(bundle, spec);
    await backend.setHead(head);
    const q = headOutputSize(spec);
    const values = new Float32Array(rows.length * q);
    for (let r0 = 0; r0 < rows.length; r0 += chunk) {
      if (opts.signal?.aborted) throw new AbortError();
      const n = Math.min(chunk, rows.length - r0);
      values.set(await backend.predict(spec.name, X.subarray(r0 * p, (r0 + n) * p), n), r0 * q);
      done += n;
      opts.onProgress?.(done, total, spec.name);
    }
    const out: DecodedHead = { name: spec.name, outputShape: [...spec.outputShape], values };
    if (opts.normalize) {
      if (!head.targetMean || !head.targetStd) {
        throw new BundleError('manifest.json', `head "${spec.name}" of subject ${subj.id} has no training-target mean/std`, {
          field: 'targetMean/targetStd',
          expected: 'both, to apply MIRAGE normalisation',
        });
      }
      out.normalization = [];
      for (const condition of [...new Set(rows.map((r) => r.condition))]) {
        const idx = rows.flatMap((r, i) => (r.condition === condition ? [i] : []));
        const batch = new Float32Array(idx.length * q);
        idx.forEach((ri, k) => batch.set(values.subarray(ri * q, (ri + 1) * q), k * q));
        const what = opts.average ? `${idx.length} stimulus averages` : `${idx.length} single trials`;
        const norm = normalizePredictions(batch, idx.length, q, head.targetMean, head.targetStd, `subject ${subj.id}, ${condition}, ${what}`);
        applyOutputNorm(head, norm.values); // rescaling undoes per-token unit norms; restore them
        idx.forEach((ri, k) => values.set(norm.values.subarray(k * q, (k + 1) * q), ri * q));
        out.normalization.push({ ...norm.batch, condition, rows: idx });
      }
    }
    heads.push(out);
  }
  return { subject: subj.id, backend: backend.name, averaged: Boolean(opts.average), normalized: Boolean(opts.normalize), rows, heads };
}
