import { describe, expect, it } from 'vitest';
import { conditionRatio, publishedComparisonMarkdown, summarise } from '../../../src/core/evaluate/tables.ts';
import type { ResultRow } from '../../../src/core/evaluate/tables.ts';

const row = (condition: 'vision' | 'imagery', stimulus: number, pixcorr: number, clip: number): ResultRow => ({
  method: 'demo', subject: 1, condition, stimulus, set: stimulus < 6 ? 'simple' : 'complex', repetition: 0, metrics: { pixcorr, clip },
});

describe('published comparison table (mirage eval)', () => {
  it('puts the bundle rows beside MIRAGE Table 1 with imagery/vision ratios for both', () => {
    const rows = [row('vision', 0, 0.4, 0.9), row('vision', 7, 0.2, 0.7), row('imagery', 0, 0.1, 0.6), row('imagery', 7, 0.05, 0.6)];
    const md = publishedComparisonMarkdown(summarise(rows));
    const lines = md.split('\n');
    const find = (prefix: string) => lines.find((l) => l.startsWith(`| ${prefix} |`))!.split('|').map((c) => c.trim()).slice(2, -1);
    // columns: PixCorr SSIM Alex(2) Alex(5) Incep CLIP Eff SwAV
    const vis = find('this bundle, vision');
    expect(vis[0]).toBe('0.300'); // mean of 0.4 and 0.2 over all sets
    expect(vis[5]).toBe('80.00'); // identification shown in %
    expect(vis[1]).toBe('–'); // no SSIM in these rows
    const ours = find('this bundle, imagery / vision');
    expect(Number(ours[0])).toBeCloseTo(0.075 / 0.3, 2);
    expect(Number(ours[5])).toBeCloseTo(0.6 / 0.8, 2);
    const pub = find('MIRAGE (published), imagery / vision');
    expect(Number(pub[0])).toBeCloseTo(0.104 / 0.221, 2);
    expect(Number(pub[5])).toBeCloseTo(57.46 / 66.69, 2);
    expect(find('MIRAGE (published), vision')[5]).toBe('66.69');
    expect(md).toContain('Kneeland et al. (2026)');
  });
  it('ratio is undefined (NaN) when a side is missing or vision is zero', () => {
    expect(conditionRatio(undefined, 1)).toBeNaN();
    expect(conditionRatio(1, 0)).toBeNaN();
    expect(conditionRatio(0.5, 2)).toBe(0.25);
  });
  it('names an unknown published method in the error', () => {
    expect(() => publishedComparisonMarkdown([], { published: 'nope' })).toThrow(/MindEye1/);
  });
});
