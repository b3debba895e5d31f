// The results dashboard: Table-1-style summary, vision-vs-imagery bars per stimulus set, the
// vision-vs-imagery scatter of methods (this bundle beside MIRAGE Table 1), best / median / worst
// reconstructions by normalised average, exports, and the audience 2AFC mode. Takes plain data;
// every number is computed in src/core/evaluate. Results can also be loaded from a `mirage eval`
// results.csv chosen locally (read in the page, never uploaded).
import { useMemo, useState, type ReactNode } from 'react';
import type { MetricKey } from '../../core/evaluate/metrics.ts';
import { METRICS, TABLE1_METRICS } from '../../core/evaluate/metrics.ts';
import type { PublishedMethod } from '../../core/evaluate/published.ts';
import { MIRAGE_TABLE1_CITATION, PUBLISHED_LABEL, PUBLISHED_TABLE1 } from '../../core/evaluate/published.ts';
import type { ResultRow, SummaryRow } from '../../core/evaluate/tables.ts';
import { csvToRows, presentMetrics, rowsToCsv, summarise } from '../../core/evaluate/tables.ts';
import { BUNDLE_LABEL, barData, bestMedianWorst, publishedToCsv, scatterData, summaryToCsv } from '../../core/evaluate/dashboardData.ts';
import { AudienceMode, type AudienceSource } from './AudienceMode.tsx';
import { BarChart, ScatterChart } from './Charts.tsx';
import { downloadText } from './exportFiles.ts';
import { useBundleEvaluation } from './client.ts';
import { EvalProgress, RowImages } from './BundleRows.tsx';
import { ComparisonTable, MetricHeaderCells } from './Comparison.tsx';
import { StimulusSetRun } from './StimulusSetRun.tsx';
import { formatCell } from './format.ts';
import { Button, FilePicker, Select, Tabs } from '../common/controls.tsx';
import { useBundleStore } from '../../state/bundleStore.ts';
import { useSelectionStore } from '../../state/selectionStore.ts';
import './evaluate.css';

export interface EvaluatePanelProps {
  /** result rows (one per sample and repetition), e.g. from `mirage eval` */
  rows?: ResultRow[];
  published?: readonly PublishedMethod[];
  citation?: string;
  /** how this bundle's rows are labelled, e.g. "this bundle (SIMULATED)" */
  bundleLabel?: string;
  /** draws one reconstruction of a row (for the best/median/worst gallery), if images are available */
  renderRow?: (row: ResultRow) => ReactNode;
  /** images for the audience mode; without it the user may choose a local folder */
  audience?: AudienceSource;
}

const NO_ROWS: ResultRow[] = [];

export function EvaluatePanel(props: EvaluatePanelProps) {
  const published = props.published ?? PUBLISHED_TABLE1;
  const citation = props.citation ?? MIRAGE_TABLE1_CITATION;
  // Without rows the panel evaluates the open bundle itself (in workers/evaluate.worker.ts).
  const selfEvaluating = props.rows === undefined;
  const [evalSize, setEvalSize] = useState<'native' | '512'>('native');
  const own = useBundleEvaluation(selfEvaluating, evalSize === '512' ? 512 : undefined);
  const ownResult = own.status.kind === 'done' ? own.status.result : null;
  const bundleLabel = props.bundleLabel ?? ownResult?.label ?? (own.simulated ? 'this bundle (SIMULATED)' : BUNDLE_LABEL);
  const [loaded, setLoaded] = useState<{ rows: ResultRow[]; name: string } | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const rows = loaded?.rows ?? props.rows ?? ownResult?.rows ?? NO_ROWS;
  const renderRow = props.renderRow ?? (selfEvaluating && own.request && !loaded ? (row: ResultRow) => <RowImages request={own.request!} row={row} /> : undefined);
  const summary = useMemo(() => summarise(rows), [rows]);
  const methods = useMemo(() => [...new Set(rows.map((r) => r.method))], [rows]);
  const metrics = useMemo(() => {
    const present = presentMetrics(rows);
    return present.length ? present : TABLE1_METRICS;
  }, [rows]);
  const [metricSel, setMetric] = useState<MetricKey>('pixcorr');
  const metric = metrics.includes(metricSel) ? metricSel : metrics[0];
  const [methodSel, setMethod] = useState<string>('');
  const method = methods.includes(methodSel) ? methodSel : methods[0];
  const [tab, setTab] = useState<'results' | 'audience'>('results');
  const manifest = useBundleStore((s) => s.manifest);
  const location = useBundleStore((s) => s.location);
  const subject = useSelectionStore((s) => s.subject);
  const info = METRICS[metric];
  const bars = useMemo(() => (method ? barData(summary, method, metric) : []), [summary, method, metric]);
  const scatter = useMemo(() => scatterData(summary, published, metric, bundleLabel), [summary, published, metric, bundleLabel]);
  const bmw = useMemo(() => (method ? bestMedianWorst(rows.filter((r) => r.method === method), metrics) : null), [rows, method, metrics]);

  return (
    <div className="eval" data-testid="evaluate-panel">
      <Tabs
        tabs={[
          { id: 'results', label: 'Results' },
          { id: 'audience', label: 'Audience 2AFC' },
        ]}
        value={tab}
        onChange={setTab}
      />
      {tab === 'audience' ? (
        <AudienceMode source={props.audience} subject={subject} />
      ) : (
        <>
          <div className="eval-controls">
            <label>
              metric{' '}
              <Select value={metric} onChange={(e) => setMetric(e.target.value as MetricKey)} data-testid="eval-metric">
                {metrics.map((k) => (
                  <option key={k} value={k}>
                    {METRICS[k].label} ({METRICS[k].higherIsBetter ? 'higher' : 'lower'} is better)
                  </option>
                ))}
              </Select>
            </label>
            {methods.length > 0 && (
              <label>
                method{' '}
                <Select value={method} onChange={(e) => setMethod(e.target.value)} data-testid="eval-method">
                  {methods.map((m) => (
                    <option key={m}>{m}</option>
                  ))}
                </Select>
              </label>
            )}
            <FilePicker
              label="Load results.csv…"
              accept=".csv,text/csv"
              testid="eval-load-csv"
              title="the results.csv of `mirage eval` (read in this page, never uploaded)"
              chosen={loaded?.name}
              onFiles={async (files) => {
                const f = files[0];
                try {
                  setLoaded({ rows: csvToRows(await f.text(), f.name), name: f.name });
                  setLoadError(null);
                } catch (err) {
                  setLoadError((err as Error).message);
                }
              }}
            />
            {selfEvaluating && (
              <label title="MIRAGE's tables resize to 512 px before PixCorr/SSIM; the bundle's own size is much faster">
                evaluation size{' '}
                <Select value={evalSize} onChange={(e) => setEvalSize(e.target.value as 'native' | '512')} data-testid="eval-size">
                  <option value="native">bundle images (fast)</option>
                  <option value="512">512 px (MIRAGE)</option>
                </Select>
              </label>
            )}
            {loadError && <span className="error">{loadError}</span>}
          </div>
          {selfEvaluating && !loaded && <EvalProgress status={own.status} available={own.available} onRun={own.run} onCancel={own.cancel} />}
          {selfEvaluating && !loaded && manifest && location && subject !== null && <StimulusSetRun manifest={manifest} location={location} subject={subject} />}
          {ownResult && !loaded && (
            <ul className="eval-notes" data-testid="eval-notes">
              {ownResult.notes.map((n) => (
                <li key={n}>{n}</li>
              ))}
            </ul>
          )}
          <p className="eval-source">
            Sources: <strong>{loaded ? `${bundleLabel} — ${loaded.name}` : bundleLabel}</strong> ({rows.length} rows){' '}
            {/simulated/i.test(bundleLabel) && <span className="sim">simulated data</span>}; <strong>{PUBLISHED_LABEL}</strong>: {citation}. Units:{' '}
            {info.unit}.
          </p>
          <div className="eval-charts">
            {bars.length > 0 ? (
              <BarChart data={bars} title={`${info.label} by stimulus set`} subtitle={`${method} — ${bundleLabel}`} unit={info.unit} name={`bars-${metric}`} />
            ) : (
              <div className="placeholder">No results of this bundle yet: reconstructions are evaluated here when the bundle has some (`mirage import recons`) or after a run in the Reconstruction tab; or run `mirage eval` and load its results.csv.</div>
            )}
            {scatter.length > 0 ? (
              <ScatterChart data={scatter} title={`${info.label}: vision vs imagery`} unit={info.unit} name={`scatter-${metric}`} missing={missingBundlePoints(summary, metric)} bundleLabel={bundleLabel} />
            ) : (
              <div className="placeholder">{info.label} is not in MIRAGE Table 1 and this bundle has no vision and imagery results for it.</div>
            )}
          </div>
          {summary.length > 0 && (
            <section>
              <h3>
                Summary ({bundleLabel}), mean ± SE{' '}
                <Button kind="small" onClick={() => downloadText(summaryToCsv(summary), 'summary.csv')}>
                  CSV
                </Button>
                <Button kind="small" onClick={() => downloadText(rowsToCsv(rows), 'results.csv')}>
                  all rows CSV
                </Button>
              </h3>
              <table className="eval-table">
                <thead>
                  <tr>
                    <th>method</th>
                    <th>condition</th>
                    <th>set</th>
                    <MetricHeaderCells metrics={metrics} />
                  </tr>
                </thead>
                <tbody>
                  {summary.map((s) => (
                    <tr key={`${s.method}|${s.condition}|${s.set}`}>
                      <td>{s.method}</td>
                      <td>{s.condition}</td>
                      <td>{s.set}</td>
                      {metrics.map((k) => (
                        <td key={k}>{s.cells[k] ? formatCell(k, s.cells[k]!) : '–'}</td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          )}
          {bmw && (
            <section>
              <h3>Best / median / worst {method} reconstruction by normalised average</h3>
              <div className="eval-controls">
                {(['best', 'median', 'worst'] as const).map((k) => (
                  <figure key={k} className="eval-chart">
                    {renderRow?.(bmw[k].row)}
                    <figcaption>
                      {k}: subject {bmw[k].row.subject}, {bmw[k].row.condition}, stimulus {bmw[k].row.stimulus}, rep {bmw[k].row.repetition} — score{' '}
                      {bmw[k].score.toFixed(3)}
                    </figcaption>
                  </figure>
                ))}
              </div>
            </section>
          )}
          {summary.length > 0 && (
            <section>
              <h3>This bundle beside MIRAGE Table 1: vision, imagery and their ratio</h3>
              <ComparisonTable summary={summary} published={published} bundleLabel={bundleLabel} citation={citation} />
            </section>
          )}
          <section>
            <h3>
              {PUBLISHED_LABEL}{' '}
              <Button kind="small" onClick={() => downloadText(publishedToCsv(published, citation), 'mirage-table1.csv')}>
                CSV
              </Button>
            </h3>
            <p className="eval-source">{citation}. Identification in % (MIRAGE's script), Eff and SwAV are correlation distances.</p>
            <table className="eval-table">
              <thead>
                <tr>
                  <th>method</th>
                  <th>condition</th>
                  {TABLE1_METRICS.map((k) => (
                    <th key={k}>{METRICS[k].label}</th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {published.flatMap((p) =>
                  (['vision', 'imagery'] as const).map((c) => (
                    <tr key={`${p.method}|${c}`}>
                      <td>{p.method}</td>
                      <td>{c}</td>
                      {TABLE1_METRICS.map((k) => (
                        <td key={k}>{p[c][k as keyof typeof p.vision]}</td>
                      ))}
                    </tr>
                  )),
                )}
              </tbody>
            </table>
          </section>
        </>
      )}
    </div>
  );
}

/** Why a bundle method has no point on the scatter: the conditions it lacks for this metric. */
function missingBundlePoints(summary: SummaryRow[], metric: MetricKey): string[] {
  const out: string[] = [];
  for (const m of new Set(summary.map((s) => s.method))) {
    const has = (c: 'vision' | 'imagery') => summary.some((s) => s.method === m && s.condition === c && s.set === 'all' && s.cells[metric]);
    const lacks = (['vision', 'imagery'] as const).filter((c) => !has(c));
    if (lacks.length === 1) out.push(`${m}: no ${lacks[0]} result yet`);
  }
  return out;
}

export default EvaluatePanel;
