// How the dashboard prints a metric value and a mean ± SE cell (display units: identification in %).
import type { MetricKey } from '../../core/evaluate/metrics.ts';
import { METRICS, displayValue } from '../../core/evaluate/metrics.ts';
import type { SummaryCell } from '../../core/evaluate/tables.ts';

/** A stored value in display units: percentages with 2 decimals, others with 3; '–' when missing. */
export function formatMetric(k: MetricKey, v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  return METRICS[k].display === 'percent' ? displayValue(k, v).toFixed(2) : v.toFixed(3);
}

/**
 * "mean ± SE (n)", or "mean (n = 1, no SE)" when a cell has a single value: the standard error of
 * one sample is undefined, and "± –" read like a missing number.
 */
export function formatCell(k: MetricKey, c: SummaryCell): string {
  return Number.isFinite(c.se) && c.n > 1 ? `${formatMetric(k, c.mean)} ± ${formatMetric(k, c.se)}` : `${formatMetric(k, c.mean)} (n = ${c.n}, no SE)`;
}
