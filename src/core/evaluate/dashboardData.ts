// Chart-ready data for the results dashboard, computed here so that components hold no math:
// bars (vision vs imagery per stimulus set, mean ± SE), the vision-vs-imagery scatter of methods
// (this bundle beside MIRAGE Table 1) and best / median / worst reconstructions by normalised average.
import type { MetricKey } from './metrics.ts';
import { METRICS, displayValue } from './metrics.ts';
import type { PublishedMethod, PublishedMetricKey } from './published.ts';
import { PUBLISHED_LABEL } from './published.ts';
import { normalisedAverage } from './stats.ts';
import type { EvalCondition, ResultRow, SummaryRow } from './tables.ts';

export interface BarDatum {
  set: string;
  condition: EvalCondition;
  mean: number;
  se: number;
  n: number;
}

/** Display-unit bars for one method and metric (sets in summary order, 'all' last). */
export function barData(summary: SummaryRow[], method: string, metric: MetricKey): BarDatum[] {
  return summary
    .filter((s) => s.method === method && s.cells[metric])
    .map((s) => {
      const c = s.cells[metric]!;
      return { set: s.set, condition: s.condition, mean: displayValue(metric, c.mean), se: displayValue(metric, c.se), n: c.n };
    });
}

export interface ScatterDatum {
  method: string;
  source: 'published' | 'bundle';
  sourceLabel: string;
  vision: number;
  imagery: number;
  /** standard errors (bundle only) */
  visionSe?: number;
  imagerySe?: number;
}

export const BUNDLE_LABEL = 'this bundle';

/**
 * Vision vs imagery score per method for one metric, display units. Bundle methods use their
 * 'all'-set summaries; published methods come from MIRAGE Table 1 (only Table-1 metrics).
 */
export function scatterData(summary: SummaryRow[], published: readonly PublishedMethod[], metric: MetricKey, bundleLabel = BUNDLE_LABEL): ScatterDatum[] {
  const out: ScatterDatum[] = [];
  if (metric in (published[0]?.vision ?? {})) {
    for (const p of published) {
      const k = metric as PublishedMetricKey;
      out.push({ method: p.method, source: 'published', sourceLabel: PUBLISHED_LABEL, vision: p.vision[k], imagery: p.imagery[k] });
    }
  }
  const methods = [...new Set(summary.map((s) => s.method))];
  for (const m of methods) {
    const v = summary.find((s) => s.method === m && s.condition === 'vision' && s.set === 'all')?.cells[metric];
    const im = summary.find((s) => s.method === m && s.condition === 'imagery' && s.set === 'all')?.cells[metric];
    if (!v || !im) continue;
    out.push({
      method: m,
      source: 'bundle',
      sourceLabel: bundleLabel,
      vision: displayValue(metric, v.mean),
      imagery: displayValue(metric, im.mean),
      visionSe: displayValue(metric, v.se),
      imagerySe: displayValue(metric, im.se),
    });
  }
  return out;
}

export interface RankedRow {
  row: ResultRow;
  score: number;
}

/**
 * Rows of one method ranked by MIRAGE's normalised average over the given metrics (min-max across
 * these rows, inverted where lower is better); returns best, median and worst.
 */
export function bestMedianWorst(rows: ResultRow[], metrics: MetricKey[]): { best: RankedRow; median: RankedRow; worst: RankedRow } | null {
  const usable = metrics.filter((k) => rows.some((r) => Number.isFinite(r.metrics[k] ?? NaN)));
  if (!rows.length || !usable.length) return null;
  const scores = normalisedAverage(
    rows.map((r, i) => ({ name: String(i), values: usable.map((k) => r.metrics[k] ?? NaN) })),
    usable.map((k) => METRICS[k].higherIsBetter),
  );
  const ranked = rows
    .map((row, i) => ({ row, score: scores[i].score }))
    .filter((r) => Number.isFinite(r.score))
    .sort((a, b) => b.score - a.score);
  if (!ranked.length) return null;
  return { best: ranked[0], median: ranked[Math.floor((ranked.length - 1) / 2)], worst: ranked[ranked.length - 1] };
}

/** Summary rows as CSV (display units), for "export table". */
export function summaryToCsv(summary: SummaryRow[]): string {
  const metrics = (Object.keys(METRICS) as MetricKey[]).filter((k) => summary.some((s) => s.cells[k]));
  const head = ['method', 'condition', 'set', 'rows', ...metrics.flatMap((k) => [`${k}_mean`, `${k}_se`, `${k}_n`])];
  const lines = [head.join(',')];
  for (const s of summary) {
    const q = /[",\n]/.test(s.method) ? `"${s.method.replace(/"/g, '""')}"` : s.method;
    lines.push(
      [q, s.condition, s.set, String(s.rows), ...metrics.flatMap((k): string[] => {
        const c = s.cells[k];
        return c ? [String(displayValue(k, c.mean)), String(displayValue(k, c.se)), String(c.n)] : ['', '', ''];
      })].join(','),
    );
  }
  return lines.join('\n') + '\n';
}

/** MIRAGE Table 1 as CSV (as printed: identification in %). */
export function publishedToCsv(published: readonly PublishedMethod[], citation: string): string {
  const keys: PublishedMetricKey[] = ['pixcorr', 'ssim', 'alex2', 'alex5', 'incep', 'clip', 'eff', 'swav'];
  const lines = [`# ${citation}`, ['method', 'condition', ...keys].join(',')];
  for (const p of published) for (const c of ['vision', 'imagery'] as const) lines.push([p.method, c, ...keys.map((k) => p[c][k])].join(','));
  return lines.join('\n') + '\n';
}
