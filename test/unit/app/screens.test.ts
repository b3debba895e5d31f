// The pure parts of the Evaluation, Reconstruction and subject screens (issue 17): which subjects are
// hidden and why, which stimuli the whole-set run reconstructs, the comparison rows with their
// imagery ÷ vision ratio, how a single-sample cell is printed, the model pack's label.
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../../src/core/bundle/manifest.ts';
import { hiddenSubjects } from '../../../src/app/browse/SubjectPicker.tsx';
import { stimulusSetJobs } from '../../../src/app/reconstruct/stimulusSet.ts';
import { comparisonLines } from '../../../src/app/evaluate/Comparison.tsx';
import { formatCell } from '../../../src/app/evaluate/format.ts';
import { PUBLISHED_TABLE1 } from '../../../src/core/evaluate/published.ts';
import { summarise, type ResultRow } from '../../../src/core/evaluate/tables.ts';
import { packLabel } from '../../../src/app/reconstruct/PackPanel.tsx';
import { hasDemoModels } from '../../../src/core/evaluate/demoMetricPack.ts';
import type { ShardSource } from '../../../src/core/bundle/source.ts';

const subject = (id: number, role: 'decoded' | 'tuning', heads = 1) => ({ id, role, heads: Array.from({ length: heads }, () => ({})) });

describe('hiddenSubjects', () => {
  it('names NSD-Imagery tuning subjects 3, 4, 6, 8 when a bundle decodes 1, 2, 5, 7', () => {
    const m = { subjects: [1, 2, 5, 7].map((id) => subject(id, 'decoded')) } as unknown as Manifest;
    expect(hiddenSubjects(m)).toEqual({ tuning: [3, 4, 6, 8], absent: [] });
  });
  it('takes tuning roles from the manifest and calls the others absent', () => {
    const m = { subjects: [subject(1, 'decoded'), subject(2, 'tuning', 0)] } as unknown as Manifest;
    expect(hiddenSubjects(m)).toEqual({ tuning: [2, 3, 4, 6, 8], absent: [5, 7] });
  });
  it('does not call a decoded subject a tuning subject', () => {
    const m = { subjects: [1, 2, 3, 4, 5, 6, 7, 8].map((id) => subject(id, 'decoded')) } as unknown as Manifest;
    expect(hiddenSubjects(m)).toEqual({ tuning: [], absent: [] });
  });
});

describe('stimulusSetJobs', () => {
  const img = { shard: 's', offset: 0, dtype: 'uint8', shape: [8, 8, 3] };
  const m = {
    stimuli: [
      { id: 2, image: img },
      { id: 0, image: img },
      { id: 1 }, // conceptual: no image
      { id: 3, image: img }, // imagery only
    ],
    trials: [
      ...[0, 1, 2].flatMap((stimulus) => (['vision', 'imagery'] as const).map((condition) => ({ subject: 1, stimulus, condition }))),
      { subject: 1, stimulus: 3, condition: 'imagery' },
      { subject: 2, stimulus: 3, condition: 'vision' },
    ],
  } as unknown as Manifest;
  it('covers every stimulus with an image and trials in both conditions, vision then imagery, by id', () => {
    expect(stimulusSetJobs(m, 1)).toEqual([
      { subject: 1, stimulus: 0, condition: 'vision' },
      { subject: 1, stimulus: 0, condition: 'imagery' },
      { subject: 1, stimulus: 2, condition: 'vision' },
      { subject: 1, stimulus: 2, condition: 'imagery' },
    ]);
    expect(stimulusSetJobs(m, 2)).toEqual([]);
  });
});

describe('comparison rows', () => {
  const row = (condition: 'vision' | 'imagery', stimulus: number, pixcorr: number): ResultRow => ({ method: 'm', subject: 1, condition, stimulus, set: 'complex', repetition: 0, metrics: { pixcorr, clip: 0.8 } });
  it("puts this bundle's means and MIRAGE's published values side by side in stored units", () => {
    const summary = summarise([row('vision', 0, 0.4), row('vision', 1, 0.6), row('imagery', 0, 0.2), row('imagery', 1, 0.3)]);
    const lines = comparisonLines(summary, PUBLISHED_TABLE1);
    expect(lines[0]).toMatchObject({ method: 'm', source: 'bundle' });
    expect(lines[0].vision.pixcorr).toBeCloseTo(0.5);
    expect(lines[0].imagery.pixcorr).toBeCloseTo(0.25);
    const mirage = lines.find((l) => l.method === 'MIRAGE')!;
    expect(mirage.source).toBe('published');
    expect(mirage.vision.pixcorr).toBe(0.221);
    expect(mirage.vision.clip).toBeCloseTo(0.6669); // printed 66.69 %, stored as a fraction
    expect(lines).toHaveLength(1 + PUBLISHED_TABLE1.length);
  });
});

describe('formatCell', () => {
  it('prints mean ± SE, and says when one sample has no SE instead of "± –"', () => {
    expect(formatCell('pixcorr', { mean: 0.5, se: 0.01, n: 4 })).toBe('0.500 ± 0.010');
    expect(formatCell('clip', { mean: 0.75, se: NaN, n: 1 })).toBe('75.00 (n = 1, no SE)');
  });
});

describe('packLabel', () => {
  it('does not repeat the kind the name already says', () => {
    expect(packLabel('demo model pack (simulated world)', 'simulated')).toBe('demo model pack (simulated world)');
    expect(packLabel('MIRAGE weights', 'real')).toBe('MIRAGE weights (real)');
  });
});

describe('hasDemoModels', () => {
  const source = (text: string) => ({ label: 'x', read: async () => new TextEncoder().encode(text) }) as unknown as ShardSource;
  it('is false for an SPA fallback page served in place of a missing models/models.json', async () => {
    expect(await hasDemoModels(source('<!doctype html><html></html>'))).toBe(false);
    expect(await hasDemoModels(source('{"models": []}'))).toBe(true);
  });
});
