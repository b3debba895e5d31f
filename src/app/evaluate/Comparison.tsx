// This bundle beside MIRAGE Table 1 in one table: vision, imagery and the imagery ÷ vision ratio of
// every Table-1 column, for each of this bundle's methods (all stimulus sets) and each published
// method. Absolute numbers of a simulated bundle are not comparable with real brains; the ratio (how
// much harder imagery is than vision) is the comparable part. Every row names its source.
import { Fragment } from 'react';
import type { MetricKey } from '../../core/evaluate/metrics.ts';
import { METRICS, TABLE1_METRICS } from '../../core/evaluate/metrics.ts';
import type { PublishedMethod, PublishedMetricKey } from '../../core/evaluate/published.ts';
import { publishedAsStored } from '../../core/evaluate/published.ts';
import { conditionRatio, type SummaryRow } from '../../core/evaluate/tables.ts';
import { formatMetric } from './format.ts';

interface Line {
  method: string;
  source: 'bundle' | 'published';
  /** stored units (identification as a fraction) */
  vision: Partial<Record<MetricKey, number>>;
  imagery: Partial<Record<MetricKey, number>>;
}

export function comparisonLines(summary: SummaryRow[], published: readonly PublishedMethod[]): Line[] {
  const out: Line[] = [];
  for (const method of [...new Set(summary.map((s) => s.method))]) {
    const pick = (c: 'vision' | 'imagery') => {
      const row = summary.find((s) => s.method === method && s.condition === c && s.set === 'all');
      return Object.fromEntries(TABLE1_METRICS.flatMap((k) => (row?.cells[k] ? [[k, row.cells[k]!.mean]] : []))) as Partial<Record<MetricKey, number>>;
    };
    out.push({ method, source: 'bundle', vision: pick('vision'), imagery: pick('imagery') });
  }
  for (const p of published) {
    const pick = (c: 'vision' | 'imagery') =>
      Object.fromEntries(TABLE1_METRICS.map((k) => [k, publishedAsStored(k as PublishedMetricKey & MetricKey, p[c][k as PublishedMetricKey])])) as Partial<Record<MetricKey, number>>;
    out.push({ method: p.method, source: 'published', vision: pick('vision'), imagery: pick('imagery') });
  }
  return out;
}

/** One header cell per metric: its label, which way is better, its unit (every evaluation table). */
export function MetricHeaderCells({ metrics }: { metrics: readonly MetricKey[] }) {
  return metrics.map((k) => (
    <th key={k} title={METRICS[k].description}>
      {METRICS[k].label} {METRICS[k].higherIsBetter ? '↑' : '↓'}
      <span className="eval-unit">{METRICS[k].unit}</span>
    </th>
  ));
}

export function ComparisonTable(props: { summary: SummaryRow[]; published: readonly PublishedMethod[]; bundleLabel: string; citation: string }) {
  const lines = comparisonLines(props.summary, props.published);
  // columns: Table-1 metrics this bundle has, else all of them (the published rows have all)
  const have = TABLE1_METRICS.filter((k) => lines.some((l) => l.source === 'bundle' && (l.vision[k] !== undefined || l.imagery[k] !== undefined)));
  const cols = have.length ? have : TABLE1_METRICS;
  const cell = (k: MetricKey, v: number | undefined) => (v === undefined ? '–' : formatMetric(k, v));
  return (
    <table className="eval-table eval-compare" data-testid="eval-compare">
      <thead>
        <tr>
          <th>method</th>
          <th>source</th>
          <th>row</th>
          <MetricHeaderCells metrics={cols} />
        </tr>
      </thead>
      <tbody>
        {lines.map((l) => (
          <Fragment key={`${l.source}|${l.method}`}>
            {(['vision', 'imagery'] as const).map((c) => (
              <tr key={`${l.source}|${l.method}|${c}`} className={l.source === 'bundle' ? 'is-bundle' : ''}>
                {c === 'vision' ? (
                  <>
                    <td rowSpan={3}>{l.method}</td>
                    <td rowSpan={3} className="eval-src">
                      {l.source === 'bundle' ? props.bundleLabel : 'published (MIRAGE Table 1)'}
                    </td>
                  </>
                ) : null}
                <td>{c}</td>
                {cols.map((k) => (
                  <td key={k}>{cell(k, l[c][k])}</td>
                ))}
              </tr>
            ))}
            <tr key={`${l.source}|${l.method}|ratio`} className={`eval-ratio ${l.source === 'bundle' ? 'is-bundle' : ''}`} data-testid={l.source === 'bundle' ? 'eval-ratio-bundle' : undefined}>
              <td>imagery ÷ vision</td>
              {cols.map((k) => {
                const r = conditionRatio(l.imagery[k], l.vision[k]);
                return <td key={k}>{Number.isFinite(r) ? r.toFixed(2) : '–'}</td>;
              })}
            </tr>
          </Fragment>
        ))}
      </tbody>
      <caption>
        All stimulus sets, means in each column's unit; identification as % correct in two-way comparisons (chance 50%). Published rows: {props.citation} (real
        brains). Ratio = imagery ÷ vision of the same column (for Eff and SwAV, distances, above 1 means imagery is worse): the part a simulated bundle can be
        compared on.
      </caption>
    </table>
  );
}
