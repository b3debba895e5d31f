// The front door (src/index.ts) in process, on a bundle held in memory whose decoding is known by
// construction (knownBundle.ts): decode follows MIRAGE (repeats averaged, normalised over the
// condition's batch), identification scores the decoded rows against the true features, and each
// misuse fails with a BundleError that says what was expected.
import { beforeAll, describe, expect, it } from 'vitest';
import { BundleError, decode, identification, MemoryStore, openBundle, reconstruct, type Bundle } from '../../../src/index.ts';
import { expectedImageryIdentification, Q, S, writeKnownBundle } from './knownBundle.ts';

let bundle: Bundle;
let F: number[][];

beforeAll(async () => {
  const store = new MemoryStore('known');
  F = await writeKnownBundle(store);
  bundle = await openBundle(store);
});

describe('front door', () => {
  it('decode: one averaged row per stimulus, normalised over the named batch, values = the true features', async () => {
    const d = await decode(bundle, { subject: 1, condition: 'vision', backends: ['js'] });
    expect(d.backend).toBe('js');
    expect(d.rows.map((r) => r.stimulus)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(d.rows.every((r) => r.trials.length === 2)).toBe(true);
    expect(d.batch).toBe(`${S} stimuli × vision, subject 1, repeats averaged (2 per stimulus)`);
    const h = d.heads[0];
    expect(h.name).toBe('image');
    expect('batch' in h.normalization).toBe(true);
    // A is stored as float16 (1/5 -> 0.19995), so rows match F to about 1e-3.
    for (let s = 0; s < S; s++) for (let j = 0; j < Q; j++) expect(h.values[s * Q + j]).toBeCloseTo(F[s][j], 2);
  });

  it('identification: 100% for vision, the count from the features alone for imagery', async () => {
    const vision = await identification(bundle, await decode(bundle, { subject: 1, condition: 'vision', backends: ['js'] }));
    expect(vision.accuracy).toBe(1);
    expect(vision.featureSet).toBe('stimuli');
    const imagery = await identification(bundle, await decode(bundle, { subject: 1, condition: 'imagery', backends: ['js'] }));
    const expected = expectedImageryIdentification(F);
    expect(imagery.perRow.map((r) => r.accuracy)).toEqual(expected);
    expect(imagery.accuracy).toBeCloseTo(expected.reduce((a, b) => a + b, 0) / S, 12);
    // MIRAGE's published variant counts one fewer per row.
    const mirage = await identification(bundle, await decode(bundle, { subject: 1, condition: 'vision', backends: ['js'] }), { variant: 'mirage' });
    expect(mirage.accuracy).toBeCloseTo((S - 2) / (S - 1), 12);
  });

  it('says what is missing: a feature set, a subject, the heads a reconstruction needs', async () => {
    const store = new MemoryStore('no-features');
    await writeKnownBundle(store, { features: false });
    const bare = await openBundle(store);
    const d = await decode(bare, { subject: 1, condition: 'vision', backends: ['js'] });
    await expect(identification(bare, d)).rejects.toThrow(/no-features\/manifest\.json: features: no "stimuli" feature set for the image head \(expected a feature set of true features per stimulus\)/);
    await expect(decode(bundle, { subject: 2, condition: 'vision', backends: ['js'] })).rejects.toThrow(BundleError);
    await expect(reconstruct(d, 0, new MemoryStore('no-pack'))).rejects.toThrow(/subject 1 has no decoded "text" head/);
    await expect(reconstruct(d, 42, new MemoryStore('no-pack'))).rejects.toThrow(/no row for stimulus 42 \(subject 1, vision\)/);
  });
});
