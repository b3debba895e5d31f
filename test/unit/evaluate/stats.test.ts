import { describe, expect, it } from 'vitest';
import { mean, normalisedAverage, standardError, wilsonInterval, zForLevel } from '../../../src/core/evaluate/stats.ts';
import { csvToRows, rowsToCsv, summarise, summaryMarkdown } from '../../../src/core/evaluate/tables.ts';
import type { ResultRow } from '../../../src/core/evaluate/tables.ts';
import { PUBLISHED_TABLE1, MIRAGE_TABLE1_CITATION } from '../../../src/core/evaluate/published.ts';
import { TABLE1_METRICS, METRICS } from '../../../src/core/evaluate/metrics.ts';
import { resultRowGrid } from '../helpers/resultRows.ts';

describe('stats', () => {
  it('mean and standard error (ddof 1) skip non-finite values', () => {
    expect(mean([1, 2, 3, NaN])).toBe(2);
    // std of 1,2,3 (ddof 1) = 1; SE = 1/sqrt(3)
    expect(standardError([1, 2, 3, NaN])).toBeCloseTo(1 / Math.sqrt(3), 14);
    expect(Number.isNaN(standardError([4]))).toBe(true);
  });
  it('z for 95% is 1.959964', () => {
    expect(zForLevel(0.95)).toBeCloseTo(1.959963985, 8);
  });
  it('Wilson interval matches textbook values', () => {
    // 78 of 100 at 95% (Wilson 1927 formula, z = norm.ppf(0.975) from scipy)
    const w = wilsonInterval(78, 100);
    expect(w.lower).toBeCloseTo(0.6892964648, 9);
    expect(w.upper).toBeCloseTo(0.8499871762, 9);
    const z = wilsonInterval(0, 10);
    expect(z.lower).toBe(0);
    expect(z.upper).toBeCloseTo(0.27753, 4);
    expect(() => wilsonInterval(5, 3)).toThrow();
  });
  it('normalised average scales each metric to [0,1] across methods and inverts lower-is-better', () => {
    const higher = TABLE1_METRICS.map((k) => METRICS[k].higherIsBetter);
    const entries = PUBLISHED_TABLE1.map((m) => ({ name: m.method, values: TABLE1_METRICS.map((k) => m.imagery[k as keyof typeof m.imagery]) }));
    const scores = normalisedAverage(entries, higher);
    const best = scores.reduce((a, b) => (a.score > b.score ? a : b));
    expect(best.name).toBe('MIRAGE');
    for (const s of scores) for (const p of s.perMetric) expect(p >= 0 && p <= 1).toBe(true);
    // Eff: MIRAGE has the lowest distance (0.914) -> scaled 1
    expect(scores[0].perMetric[TABLE1_METRICS.indexOf('eff')]).toBe(1);
    // a constant metric is left out
    const c = normalisedAverage([{ name: 'a', values: [1, 5] }, { name: 'b', values: [1, 7] }], [true, true]);
    expect(Number.isNaN(c[0].perMetric[0])).toBe(true);
    expect(c[1].score).toBe(1);
  });
});

describe('tables', () => {
  const rows: ResultRow[] = resultRowGrid({
    method: 'demo, "sim"',
    repetitions: 3,
    metrics: (condition, stimulus, repetition) => ({ pixcorr: (condition === 'vision' ? 0.3 : 0.1) + repetition * 0.01, ssim: 0.4, alex2: stimulus % 2 ? 1 : 0.5 }),
  });
  it('summarises per condition x set with mean ± SE', () => {
    const s = summarise(rows);
    const vs = s.find((x) => x.condition === 'vision' && x.set === 'simple')!;
    expect(vs.rows).toBe(18);
    expect(vs.cells.pixcorr!.mean).toBeCloseTo(0.31, 12);
    expect(vs.cells.ssim!.se).toBeLessThan(1e-15);
    expect(s.find((x) => x.condition === 'imagery' && x.set === 'all')!.rows).toBe(36);
    expect(s.some((x) => x.set === 'conceptual')).toBe(false);
    const md = summaryMarkdown(s, { source: 'this bundle' });
    expect(md).toContain('| vision | simple | 0.310 ± ');
    expect(md).toContain('Alex(2) ↑');
    expect(md).toContain('75.00 ±'); // identification shown in %
  });
  it('CSV round-trips (with quoting) for resuming', () => {
    const csv = rowsToCsv(rows);
    expect(csv.split('\n')[0]).toBe('method,subject,condition,set,stimulus,repetition,pixcorr,ssim,alex2');
    const back = csvToRows(csv);
    expect(back).toEqual(rows);
  });
  it('rejects a CSV with a wrong header, naming the file', () => {
    expect(() => csvToRows('foo,bar\n', 'x.csv')).toThrow(/x\.csv/);
  });
  it('published data carries its citation', () => {
    expect(MIRAGE_TABLE1_CITATION).toMatch(/arXiv:2605\.17198/);
    expect(PUBLISHED_TABLE1.length).toBe(8);
  });
});
