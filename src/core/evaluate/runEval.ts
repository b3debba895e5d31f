// Evaluating many reconstructions: groups of (method, subject, condition, repetition), each group
// scored against the ground truths of its stimuli — pixel metrics per image, feature metrics
// (identification needs the whole group) when networks are given. Resumable: rows already finished
// (every requested metric present) are handed in and their groups skipped. Pure: the CLI supplies
// image loading, feature runners, progress and persistence.
import { AbortError } from '../base/errors.ts';
import type { Manifest, StimulusSet, TensorRef } from '../bundle/manifest.ts';
import type { BrainScorer } from './brainModel.ts';
import { fromUint8 } from './image.ts';
import type { FeatureNetwork, FeatureRunner, NetworkSpec } from './featurePacks.ts';
import { extractFeatures, featureMetric } from './featurePacks.ts';
import type { IdentificationVariant } from './identification.ts';
import type { FloatImage } from './image.ts';
import type { MetricKey } from './metrics.ts';
import type { PixelMetricOptions, PreparedGroundTruth } from './pixelSuite.ts';
import { pixelMetricsPrepared, prepareGroundTruth } from './pixelSuite.ts';
import type { EvalCondition, ResultRow } from './tables.ts';
import { rowKey } from './tables.ts';
import type { Matrix } from '../tensor/matrix.ts';
import type { StepProgress } from '../base/progress.ts';

export interface ReconstructionItem {
  method: string;
  subject: number;
  condition: EvalCondition;
  stimulus: number;
  repetition: number;
  /** where it came from, for messages (file name or bundle tensor) */
  label: string;
  load: () => Promise<FloatImage>;
}

export interface FeatureNetworkRun {
  spec: NetworkSpec;
  run: FeatureRunner;
}

export interface EvaluateOptions extends PixelMetricOptions {
  groundTruth: (stimulus: number) => Promise<FloatImage>;
  stimulusSet: (stimulus: number) => StimulusSet;
  networks?: Partial<Record<FeatureNetwork, FeatureNetworkRun>>;
  /** adds brain_early / brain_higher / brain_all (an encoding model; see brainModel.ts) */
  brain?: BrainScorer;
  identificationVariant?: IdentificationVariant;
  /** rows from an earlier run */
  finished?: ResultRow[];
  signal?: AbortSignal;
  /** after every finished group, with all rows so far (earlier + new): persist here */
  onGroup?: (rows: ResultRow[]) => Promise<void> | void;
  onProgress?: StepProgress;
}

export const BRAIN_METRICS: MetricKey[] = ['brain_early', 'brain_higher', 'brain_all'];

export function requestedMetrics(networks?: Partial<Record<FeatureNetwork, unknown>>, brain = false): MetricKey[] {
  return ['pixcorr', 'ssim', ...(Object.keys(networks ?? {}) as MetricKey[]), ...(brain ? BRAIN_METRICS : [])];
}

function groupKey(r: Pick<ReconstructionItem, 'method' | 'subject' | 'condition' | 'repetition'>): string {
  return `${r.method}|${r.subject}|${r.condition}|${r.repetition}`;
}

/** Scores every item; returns all rows (earlier finished ones included), sorted. */
export async function evaluateReconstructions(items: ReconstructionItem[], opts: EvaluateOptions): Promise<ResultRow[]> {
  const wanted = requestedMetrics(opts.networks, !!opts.brain);
  const isDone = (r: ResultRow) => wanted.every((k) => k in r.metrics && r.metrics[k] !== undefined);
  const rows = new Map<string, ResultRow>();
  for (const r of opts.finished ?? []) rows.set(rowKey(r), r);
  const groups = new Map<string, ReconstructionItem[]>();
  for (const it of items) {
    const g = groups.get(groupKey(it)) ?? [];
    g.push(it);
    groups.set(groupKey(it), g);
  }
  const todo = [...groups.values()].filter((g) => g.some((it) => !isDone(rows.get(rowKey(it)) ?? ({ metrics: {} } as ResultRow))));
  const total = todo.reduce((a, g) => a + g.length, 0);
  let done = 0;
  opts.onProgress?.(0, total, `${items.length - total} of ${items.length} already done`);

  const preparedGt = new Map<number, PreparedGroundTruth>();
  const gtImages = new Map<number, FloatImage>();
  const gtFeatures = new Map<string, Matrix>();
  const gtImage = async (s: number) => {
    let im = gtImages.get(s);
    if (!im) gtImages.set(s, (im = await opts.groundTruth(s)));
    return im;
  };
  for (const group of todo) {
    group.sort((a, b) => a.stimulus - b.stimulus);
    const recons: FloatImage[] = [];
    for (const it of group) {
      if (opts.signal?.aborted) throw new AbortError();
      let gt = preparedGt.get(it.stimulus);
      if (!gt) preparedGt.set(it.stimulus, (gt = prepareGroundTruth(await gtImage(it.stimulus), opts)));
      const img = await it.load();
      recons.push(img);
      const key = rowKey(it);
      const prev = rows.get(key);
      const metrics: ResultRow['metrics'] = { ...(prev?.metrics ?? {}) };
      if (!('pixcorr' in metrics && 'ssim' in metrics)) {
        const m = pixelMetricsPrepared(gt, img);
        metrics.pixcorr = m.pixcorr;
        metrics.ssim = m.ssim;
      }
      if (opts.brain && !BRAIN_METRICS.every((k) => k in metrics)) {
        const b = await opts.brain.score(it.subject, it.condition, it.stimulus, img);
        metrics.brain_early = b.early;
        metrics.brain_higher = b.higher;
        metrics.brain_all = b.all;
      }
      rows.set(key, { method: it.method, subject: it.subject, condition: it.condition, stimulus: it.stimulus, set: opts.stimulusSet(it.stimulus), repetition: it.repetition, metrics });
      done++;
      opts.onProgress?.(done, total, it.label);
    }
    for (const [net, nr] of Object.entries(opts.networks ?? {}) as [FeatureNetwork, FeatureNetworkRun][]) {
      if (group.length < 2 && nr.spec.use === 'identification') continue;
      const stimuli = group.map((it) => it.stimulus);
      opts.onProgress?.(done, total, `${net} features of ${group.length} reconstructions (${group[0].label})`);
      const fkey = `${net}|${stimuli.join(',')}`;
      let gtF = gtFeatures.get(fkey);
      if (!gtF) {
        const gts = await Promise.all(stimuli.map(gtImage));
        gtFeatures.set(fkey, (gtF = await extractFeatures(gts, nr.spec, nr.run, { signal: opts.signal })));
      }
      const recF = await extractFeatures(recons, nr.spec, nr.run, { signal: opts.signal });
      const vals = featureMetric(nr.spec.use, gtF, recF, opts.identificationVariant);
      group.forEach((it, i) => {
        rows.get(rowKey(it))!.metrics[net as MetricKey] = vals[i];
      });
    }
    await opts.onGroup?.(sortRows([...rows.values()]));
  }
  return sortRows([...rows.values()]);
}

export function sortRows(rows: ResultRow[]): ResultRow[] {
  const cond = (c: EvalCondition) => (c === 'vision' ? 0 : 1);
  return rows.sort(
    (a, b) =>
      a.method.localeCompare(b.method) || a.subject - b.subject || cond(a.condition) - cond(b.condition) || a.stimulus - b.stimulus || a.repetition - b.repetition,
  );
}

/** `<subject>_<condition>_<stimulus>_<rep>.png`, e.g. 1_imagery_4_0.png */
export const RECON_FILE_PATTERN = /^(\d+)_(vision|imagery)_(\d+)_(\d+)\.png$/;

export function parseReconFileName(name: string): { subject: number; condition: EvalCondition; stimulus: number; repetition: number } | null {
  const m = RECON_FILE_PATTERN.exec(name);
  if (!m) return null;
  return { subject: Number(m[1]), condition: m[2] as EvalCondition, stimulus: Number(m[3]), repetition: Number(m[4]) };
}

/**
 * Items for every image of a bundle's `reconstructions` sets (uint8 [nStimuli, reps, H, W, 3]).
 * `tensor` reads a tensor of the bundle; each set is read once, on first use.
 */
export function bundleReconstructionItems(
  manifest: Pick<Manifest, 'reconstructions'>,
  tensor: (ref: TensorRef) => Promise<Uint8Array>,
  keep: (subject: number, stimulus: number, repetition: number) => boolean = () => true,
): ReconstructionItem[] {
  const items: ReconstructionItem[] = [];
  (manifest.reconstructions ?? []).forEach((set, si) => {
    const [nS, reps, h, w, c] = set.images.shape;
    let cache: Promise<Uint8Array> | null = null;
    const all = () => (cache ??= tensor(set.images));
    for (let i = 0; i < nS; i++) {
      for (let r = 0; r < reps; r++) {
        const stimulus = set.stimuli[i];
        if (!keep(set.subject, stimulus, r)) continue;
        const off = (i * reps + r) * h * w * c;
        items.push({
          method: set.method,
          subject: set.subject,
          condition: set.condition,
          stimulus,
          repetition: r,
          label: `reconstructions[${si}] ${set.method} s${set.subject} ${set.condition} #${stimulus} rep ${r}`,
          load: async () => fromUint8((await all()).subarray(off, off + h * w * c), w, h, c),
        });
      }
    }
  });
  return items;
}
