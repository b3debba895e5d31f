import { describe, expect, it } from 'vitest';
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { audienceCsv, buildAudienceTrials, scoreAudience } from '../../../src/core/evaluate/audience.ts';
import type { AudienceAnswer, AudienceCandidate } from '../../../src/core/evaluate/audience.ts';
import { barData, bestMedianWorst, scatterData, summaryToCsv } from '../../../src/core/evaluate/dashboardData.ts';
import { PUBLISHED_LABEL, PUBLISHED_TABLE1 } from '../../../src/core/evaluate/published.ts';
import { summarise } from '../../../src/core/evaluate/tables.ts';
import type { ResultRow } from '../../../src/core/evaluate/tables.ts';
import { EvaluatePanel } from '../../../src/app/evaluate/index.tsx';
import { resultRowGrid } from '../helpers/resultRows.ts';

const rows: ResultRow[] = resultRowGrid({
  method: 'demo',
  repetitions: 2,
  metrics: (condition, stimulus, repetition) => ({ pixcorr: (condition === 'vision' ? 0.2 : 0.1) + stimulus * 0.01, ssim: 0.3 + repetition * 0.1, alex2: 0.5 + stimulus / 24 }),
});

describe('dashboard data', () => {
  const summary = summarise(rows);
  it('bars: vision and imagery per set, identification in %', () => {
    const b = barData(summary, 'demo', 'alex2');
    expect(b.map((d) => `${d.condition}/${d.set}`)).toEqual(['vision/simple', 'vision/complex', 'vision/all', 'imagery/simple', 'imagery/complex', 'imagery/all']);
    expect(b[0].mean).toBeCloseTo(100 * (0.5 + 2.5 / 24), 10);
    expect(b[0].se).toBeGreaterThan(0);
  });
  it('scatter: published methods labelled as such beside this bundle', () => {
    const s = scatterData(summary, PUBLISHED_TABLE1, 'pixcorr');
    expect(s.filter((d) => d.source === 'published').length).toBe(8);
    expect(s.find((d) => d.method === 'MIRAGE')!).toMatchObject({ vision: 0.221, imagery: 0.104, sourceLabel: PUBLISHED_LABEL });
    const mine = s.find((d) => d.source === 'bundle')!;
    expect(mine.vision).toBeCloseTo(0.2 + 0.055, 10);
    expect(mine.imagery).toBeCloseTo(0.1 + 0.055, 10);
    // brain metrics are not in Table 1: only bundle points
    expect(scatterData(summary, PUBLISHED_TABLE1, 'brain_all').length).toBe(0);
  });
  it('best / median / worst by normalised average', () => {
    const r = bestMedianWorst(rows.filter((x) => x.condition === 'vision'), ['pixcorr', 'ssim', 'alex2'])!;
    expect(r.best.row).toMatchObject({ stimulus: 11, repetition: 1 });
    expect(r.worst.row).toMatchObject({ stimulus: 0, repetition: 0 });
    expect(r.best.score).toBeCloseTo(1, 12);
    expect(r.worst.score).toBeCloseTo(0, 12);
  });
  it('summary CSV has mean/se/n columns in display units', () => {
    const csv = summaryToCsv(summary).split('\n');
    expect(csv[0]).toBe('method,condition,set,rows,pixcorr_mean,pixcorr_se,pixcorr_n,ssim_mean,ssim_se,ssim_n,alex2_mean,alex2_se,alex2_n');
    expect(csv[1].startsWith('demo,vision,simple,12,')).toBe(true);
  });
});

describe('audience 2AFC', () => {
  const cands: AudienceCandidate[] = [];
  for (const method of ['A', 'B'])
    for (const condition of ['vision', 'imagery'] as const)
      for (let stimulus = 0; stimulus < 6; stimulus++) cands.push({ method, condition, stimulus, repetition: 0 });
  const trials = buildAudienceTrials(cands, { seed: 4, perCell: 6, attentionEvery: 6 });
  it('builds seeded trials with targets, foils and attention checks', () => {
    expect(trials.filter((t) => t.kind === 'test').length).toBe(4 * 6);
    expect(trials.filter((t) => t.kind === 'attention').length).toBe(4);
    for (const t of trials) {
      const right = t.correct === 'left' ? t.left : t.right;
      const wrong = t.correct === 'left' ? t.right : t.left;
      if (t.kind === 'attention') expect(right).toEqual({ kind: 'gt', stimulus: t.stimulus });
      else {
        expect(right.kind === 'recon' && right.candidate.stimulus).toBe(t.stimulus);
        expect(wrong.kind === 'recon' && wrong.candidate.stimulus !== t.stimulus).toBe(true);
        expect(wrong.kind === 'recon' && wrong.candidate.method).toBe(t.method);
      }
    }
    expect(buildAudienceTrials(cands, { seed: 4, perCell: 6, attentionEvery: 6 })).toEqual(trials);
    const sides = new Set(trials.map((t) => t.correct));
    expect(sides.size).toBe(2);
  });
  it('scores per method x condition with Wilson intervals, attention separately, and exports CSV', () => {
    // always answer correctly for method A, always wrong for B; pass every attention check
    const answers: AudienceAnswer[] = trials.map((t) => ({
      trial: t.index,
      choice: t.kind === 'attention' || t.method === 'A' ? t.correct : t.correct === 'left' ? 'right' : 'left',
      ms: 800,
    }));
    const s = scoreAudience(trials, answers);
    expect(s.attention).toEqual({ passed: 4, total: 4 });
    expect(s.answered).toBe(24);
    const a = s.cells.find((c) => c.method === 'A' && c.condition === 'imagery')!;
    expect(a.interval).toMatchObject({ successes: 6, trials: 6, proportion: 1, method: 'wilson' });
    expect(a.interval.lower).toBeCloseTo(0.6097, 3);
    expect(s.cells.find((c) => c.method === 'B' && c.condition === 'vision')!.interval.proportion).toBe(0);
    const csv = audienceCsv(trials, answers).trim().split('\n');
    expect(csv.length).toBe(trials.length + 1);
    expect(csv[0]).toBe('trial,kind,method,condition,stimulus,left,right,correct_side,choice,correct,ms');
  });
});

describe('EvaluatePanel', () => {
  it('renders the summary, sources and the published table from plain props', () => {
    const html = renderToString(createElement(EvaluatePanel, { rows, bundleLabel: 'this bundle (SIMULATED)' }));
    expect(html).toContain('published, real NSD-Imagery (MIRAGE Table 1)');
    expect(html).toContain('this bundle (SIMULATED)');
    expect(html).toContain('simulated data');
    expect(html).toContain('arXiv:2605.17198');
    expect(html).toContain('Brain Diffuser');
    expect(html).toMatch(/0\.2\d\d ± 0\.0\d\d/);
  });
  it('renders without any bundle results (published only)', () => {
    const html = renderToString(createElement(EvaluatePanel, {}));
    expect(html).toContain('No results of this bundle yet');
    expect(html).toContain('MindEye2');
  });
});
