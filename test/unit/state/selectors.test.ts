import { beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../../src/core/bundle/manifest.ts';
import { DEFAULT_SELECTION } from '../../../src/state/selectionStore.ts';
import { decodeKey, decodedSubjects, resolveSelection, selectionKey, stimuliBySet, trialIndices } from '../../../src/state/selectors.ts';
import { toAppError } from '../../../src/state/bundleStore.ts';
import { BundleError } from '../../../src/core/base/errors.ts';
import { writeTinyBundle } from '../../browser/helpers/tinyBundle.ts';

let m: Manifest;
beforeAll(async () => {
  m = await writeTinyBundle({ async write() {} });
});

describe('selectors over a manifest', () => {
  it('groups the 18 stimuli by set in id order', () => {
    const groups = stimuliBySet(m);
    expect(groups.map((g) => g.set)).toEqual(['simple', 'complex', 'conceptual']);
    expect(groups.map((g) => g.stimuli.map((s) => s.id))).toEqual([
      [0, 1, 2, 3, 4, 5],
      [6, 7, 8, 9, 10, 11],
      [12, 13, 14, 15, 16, 17],
    ]);
  });

  it('lists a stimulus’s trials of one condition by repeat', () => {
    const t = trialIndices(m, 1, 4, 'imagery');
    expect(t).toHaveLength(6);
    expect(t.map((i) => m.trials[i].repeat)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(t.every((i) => m.trials[i].stimulus === 4 && m.trials[i].condition === 'imagery')).toBe(true);
    expect(trialIndices(m, 2, 4, 'imagery')).toEqual([]);
  });

  it('resolves an empty selection to the first decoded subject, stimulus and trial', () => {
    expect(decodedSubjects(m).map((s) => s.id)).toEqual([1]);
    const r = resolveSelection(m, DEFAULT_SELECTION)!;
    expect(r).toMatchObject({ subject: 1, stimulus: 0, condition: 'vision', average: false });
    expect(r.trials).toEqual([r.candidates[0]]);
  });

  it('keys a normalised decode by subject, condition and stimulus, not by the trial controls', () => {
    const one = resolveSelection(m, { ...DEFAULT_SELECTION, stimulus: 4, condition: 'imagery' })!;
    const avg = resolveSelection(m, { ...DEFAULT_SELECTION, stimulus: 4, condition: 'imagery', repeats: 3 })!;
    expect(decodeKey(one, false)).toBe(selectionKey(one));
    expect(decodeKey(one, false)).not.toBe(decodeKey(avg, false));
    expect(decodeKey(one, true)).toBe(decodeKey(avg, true));
    expect(decodeKey(one, true)).not.toBe(decodeKey(one, false));
    const vis = resolveSelection(m, { ...DEFAULT_SELECTION, stimulus: 4, condition: 'vision' })!;
    expect(decodeKey(vis, true)).not.toBe(decodeKey(one, true));
  });

  it('averages the first n repeats, clamped to the number of repeats', () => {
    const r = resolveSelection(m, { ...DEFAULT_SELECTION, stimulus: 7, condition: 'imagery', repeats: 99 })!;
    expect(r.average).toBe(true);
    expect(r.trials).toEqual(r.candidates);
    const r3 = resolveSelection(m, { ...DEFAULT_SELECTION, stimulus: 7, condition: 'imagery', repeats: 3 })!;
    expect(r3.trials).toEqual(r3.candidates.slice(0, 3));
    expect(selectionKey(r3)).not.toBe(selectionKey(r));
  });

  it('keeps a chosen trial only when it matches the stimulus and condition', () => {
    const vis = trialIndices(m, 1, 2, 'vision');
    expect(resolveSelection(m, { ...DEFAULT_SELECTION, stimulus: 2, trial: vis[2] })!.trial).toBe(vis[2]);
    const other = trialIndices(m, 1, 3, 'vision')[1];
    expect(resolveSelection(m, { ...DEFAULT_SELECTION, stimulus: 2, trial: other })!.trial).toBe(vis[0]);
  });
});

describe('toAppError', () => {
  it('keeps file and field of a BundleError', () => {
    const e = toAppError('opening', new BundleError('manifest.json', 'bad', { field: 'stimuli[3].set', expected: 'simple' }));
    expect(e).toMatchObject({ context: 'opening', file: 'manifest.json', field: 'stimuli[3].set', name: 'BundleError' });
    expect(e.message).toContain('stimuli[3].set');
    expect(toAppError('x', 'plain string')).toEqual({ context: 'x', message: 'plain string' });
  });
});
