// Result rows (one per sample and repetition, like MIRAGE's per-run CSVs), their summary shaped like
// MIRAGE Table 1 (rows vision/imagery x stimulus set, columns the metrics, mean ± standard error),
// and CSV / markdown renderings. Pure: the CLI and the dashboard both render from these.
import { BundleError } from '../base/errors.ts';
import type { StimulusSet } from '../bundle/manifest.ts';
import { STIMULUS_SETS } from '../bundle/manifest.ts';
import { METRICS, METRIC_KEYS, TABLE1_METRICS, displayValue } from './metrics.ts';
import { MIRAGE_TABLE1_CITATION, PUBLISHED_LABEL, PUBLISHED_TABLE1, publishedAsStored } from './published.ts';
import type { PublishedMetricKey } from './published.ts';
import type { MetricKey } from './metrics.ts';
import { mean, standardError } from './stats.ts';

export type EvalCondition = 'vision' | 'imagery';
export const EVAL_CONDITIONS: EvalCondition[] = ['vision', 'imagery'];

export interface ResultRow {
  method: string;
  subject: number;
  condition: EvalCondition;
  stimulus: number;
  set: StimulusSet;
  repetition: number;
  metrics: Partial<Record<MetricKey, number>>;
}

export interface SummaryCell {
  mean: number;
  se: number;
  n: number;
}

export interface SummaryRow {
  method: string;
  condition: EvalCondition;
  set: StimulusSet | 'all';
  cells: Partial<Record<MetricKey, SummaryCell>>;
  rows: number;
}

/** Key identifying one evaluated reconstruction (for resuming). */
export function rowKey(r: Pick<ResultRow, 'method' | 'subject' | 'condition' | 'stimulus' | 'repetition'>): string {
  return `${r.method}|${r.subject}|${r.condition}|${r.stimulus}|${r.repetition}`;
}

/** Metrics that have at least one finite value in `rows`, in registry order. */
export function presentMetrics(rows: ResultRow[]): MetricKey[] {
  return METRIC_KEYS.filter((k) => rows.some((r) => Number.isFinite(r.metrics[k] ?? NaN)));
}

/**
 * Mean ± SE per method x condition x set (and 'all' sets), standard error across every sample and
 * repetition row of the cell (ddof = 1). Conceptual vision trials never appear: there is no ground
 * truth image for them.
 */
export function summarise(rows: ResultRow[]): SummaryRow[] {
  const metrics = presentMetrics(rows);
  const methods = [...new Set(rows.map((r) => r.method))];
  const out: SummaryRow[] = [];
  for (const method of methods) {
    for (const condition of EVAL_CONDITIONS) {
      for (const set of [...STIMULUS_SETS, 'all'] as const) {
        const sel = rows.filter((r) => r.method === method && r.condition === condition && (set === 'all' || r.set === set));
        if (!sel.length) continue;
        const cells: Partial<Record<MetricKey, SummaryCell>> = {};
        for (const k of metrics) {
          const vals = sel.map((r) => r.metrics[k] ?? NaN).filter(Number.isFinite);
          if (vals.length) cells[k] = { mean: mean(vals), se: standardError(vals), n: vals.length };
        }
        out.push({ method, condition, set, cells, rows: sel.length });
      }
    }
  }
  return out;
}

function fmt(key: MetricKey, v: number): string {
  if (!Number.isFinite(v)) return '–';
  const d = displayValue(key, v);
  return METRICS[key].display === 'percent' ? d.toFixed(2) : d.toFixed(3);
}

/** Markdown table shaped like MIRAGE Table 1, one block per method. */
export function summaryMarkdown(summary: SummaryRow[], opts: { source?: string } = {}): string {
  const metrics = METRIC_KEYS.filter((k) => summary.some((s) => s.cells[k]));
  const lines: string[] = [];
  const methods = [...new Set(summary.map((s) => s.method))];
  for (const method of methods) {
    lines.push(`### ${method}${opts.source ? ` (${opts.source})` : ''}`, '');
    lines.push(`| condition | stimulus set | ${metrics.map((k) => `${METRICS[k].label} ${METRICS[k].higherIsBetter ? '↑' : '↓'}`).join(' | ')} | rows |`);
    lines.push(`|---|---|${metrics.map(() => '---').join('|')}|---|`);
    for (const s of summary.filter((x) => x.method === method)) {
      const cells = metrics.map((k) => {
        const c = s.cells[k];
        return c ? `${fmt(k, c.mean)} ± ${fmt(k, c.se)}` : '–';
      });
      lines.push(`| ${s.condition} | ${s.set} | ${cells.join(' | ')} | ${s.rows} |`);
    }
    lines.push('');
  }
  lines.push(
    'Mean ± standard error across samples and repetitions. Identification columns in % (two-way; chance 50%), ' +
      'Eff and SwAV are correlation distances (lower is better).',
  );
  return lines.join('\n');
}

export const CSV_FIXED_COLUMNS = ['method', 'subject', 'condition', 'set', 'stimulus', 'repetition'] as const;

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV, one row per sample and repetition; metric values in stored units (identification as fractions). */
export function rowsToCsv(rows: ResultRow[], metrics: MetricKey[] = presentMetrics(rows)): string {
  const head = [...CSV_FIXED_COLUMNS, ...metrics].join(',');
  const body = rows.map((r) =>
    [csvField(r.method), r.subject, r.condition, r.set, r.stimulus, r.repetition, ...metrics.map((k) => {
      const v = r.metrics[k];
      return v === undefined || !Number.isFinite(v) ? '' : String(v);
    })].join(','),
  );
  return [head, ...body].join('\n') + '\n';
}

function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (q) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') q = false;
      else cur += ch;
    } else if (ch === '"') q = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Parses CSV written by rowsToCsv (used to resume `mirage eval`). */
export function csvToRows(text: string, file = 'results.csv'): ResultRow[] {
  const lines = text.split(/\r?\n/).filter((l) => l.length);
  if (!lines.length) return [];
  const head = splitCsvLine(lines[0]);
  CSV_FIXED_COLUMNS.forEach((c, i) => {
    if (head[i] !== c) throw new BundleError(file, `column ${i + 1} is "${head[i]}"`, { field: 'header', expected: `"${c}"` });
  });
  const metricCols = head.slice(CSV_FIXED_COLUMNS.length);
  for (const m of metricCols) {
    if (!(METRIC_KEYS as readonly string[]).includes(m)) throw new BundleError(file, `unknown metric column "${m}"`, { field: 'header', expected: METRIC_KEYS.join(', ') });
  }
  return lines.slice(1).map((l, li) => {
    const f = splitCsvLine(l);
    if (f.length !== head.length) throw new BundleError(file, `line ${li + 2} has ${f.length} fields`, { field: `line ${li + 2}`, expected: `${head.length}` });
    const condition = f[2] as EvalCondition;
    const set = f[3] as StimulusSet;
    if (!EVAL_CONDITIONS.includes(condition)) throw new BundleError(file, `bad condition "${f[2]}"`, { field: `line ${li + 2}`, expected: 'vision or imagery' });
    if (!(STIMULUS_SETS as readonly string[]).includes(set)) throw new BundleError(file, `bad set "${f[3]}"`, { field: `line ${li + 2}`, expected: STIMULUS_SETS.join(', ') });
    const metrics: Partial<Record<MetricKey, number>> = {};
    metricCols.forEach((m, k) => {
      const s = f[CSV_FIXED_COLUMNS.length + k];
      metrics[m as MetricKey] = s === '' ? NaN : Number(s);
    });
    return { method: f[0], subject: Number(f[1]), condition, set, stimulus: Number(f[4]), repetition: Number(f[5]), metrics };
  });
}

/** imagery / vision of one column (NaN when either side is missing or vision is 0). */
export function conditionRatio(imagery: number | undefined, vision: number | undefined): number {
  if (imagery === undefined || vision === undefined || !Number.isFinite(imagery) || !Number.isFinite(vision) || vision === 0) return NaN;
  return imagery / vision;
}

/**
 * This bundle's vision and imagery rows (all stimulus sets) beside the published MIRAGE Table 1 rows,
 * with the imagery/vision ratio of every column for both, so the comparison is one glance. The
 * published rows are results on real NSD-Imagery; the ratio is the comparable part (a simulated
 * bundle's absolute values are not). Ratios of identification columns are taken on accuracies
 * (chance 50%); for Eff and SwAV (distances, lower is better) a ratio above 1 means imagery is worse.
 */
export function publishedComparisonMarkdown(
  summary: SummaryRow[],
  opts: { method?: string; published?: string; source?: string } = {},
): string {
  const method = opts.method ?? summary[0]?.method;
  const pub = PUBLISHED_TABLE1.find((p) => p.method === (opts.published ?? 'MIRAGE'));
  if (!pub) throw new BundleError('published.ts', `no published row "${opts.published}"`, { field: 'method', expected: PUBLISHED_TABLE1.map((p) => p.method).join(', ') });
  const ours = (c: EvalCondition) => summary.find((s) => s.method === method && s.condition === c && s.set === 'all');
  const vis = ours('vision');
  const img = ours('imagery');
  const cols = TABLE1_METRICS as (MetricKey & PublishedMetricKey)[];
  const cell = (k: MetricKey, v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : fmt(k, v));
  const ratio = (r: number) => (Number.isFinite(r) ? r.toFixed(2) : '–');
  const pubStored = (c: EvalCondition, k: MetricKey & PublishedMetricKey) => publishedAsStored(k, pub[c][k]);
  const src = opts.source ? ` (${opts.source})` : '';
  const lines = [
    `### ${method ?? 'this bundle'}${src} beside ${PUBLISHED_LABEL}`,
    '',
    `| row | ${cols.map((k) => `${METRICS[k].label} ${METRICS[k].higherIsBetter ? '↑' : '↓'}`).join(' | ')} |`,
    `|---|${cols.map(() => '---').join('|')}|`,
    `| this bundle, vision | ${cols.map((k) => cell(k, vis?.cells[k]?.mean)).join(' | ')} |`,
    `| this bundle, imagery | ${cols.map((k) => cell(k, img?.cells[k]?.mean)).join(' | ')} |`,
    `| this bundle, imagery / vision | ${cols.map((k) => ratio(conditionRatio(img?.cells[k]?.mean, vis?.cells[k]?.mean))).join(' | ')} |`,
    `| ${pub.method} (published), vision | ${cols.map((k) => cell(k, pubStored('vision', k))).join(' | ')} |`,
    `| ${pub.method} (published), imagery | ${cols.map((k) => cell(k, pubStored('imagery', k))).join(' | ')} |`,
    `| ${pub.method} (published), imagery / vision | ${cols.map((k) => ratio(conditionRatio(pub.imagery[k], pub.vision[k]))).join(' | ')} |`,
    '',
    `All stimulus sets. Published: ${MIRAGE_TABLE1_CITATION} (real brains). Ratio = imagery / vision per column ` +
      '(for Eff and SwAV, distances, above 1 means imagery is worse).',
  ];
  return lines.join('\n');
}
