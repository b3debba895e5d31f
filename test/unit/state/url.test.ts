import { describe, expect, it } from 'vitest';
import { DEFAULT_SELECTION, type Selection } from '../../../src/state/selectionStore.ts';
import { bundleUrlFromParams, registerUrlCodec, selectionFromParams, selectionToParams } from '../../../src/state/url.ts';

describe('selection <-> URL', () => {
  it('round-trips a full selection', () => {
    const sel: Selection = { subject: 5, stimulus: 13, condition: 'imagery', trial: 412, repeats: 8, normalize: true, tab: 'evaluate' };
    const p = new URLSearchParams('bundle=https%3A%2F%2Fexample.org%2Fb%2F&other=1');
    selectionToParams(sel, p);
    expect(p.get('subj')).toBe('5');
    expect(p.get('cond')).toBe('imagery');
    expect(p.get('norm')).toBe('1');
    expect(selectionFromParams(new URLSearchParams(p.toString()))).toEqual(sel);
    // keys it does not own are kept
    expect(p.get('bundle')).toBe('https://example.org/b/');
    expect(p.get('other')).toBe('1');
  });

  it('leaves defaults out of the URL and removes keys that went back to default', () => {
    const p = new URLSearchParams('cond=imagery&rep=4&norm=1&tab=trial');
    selectionToParams({ ...DEFAULT_SELECTION }, p);
    expect(p.toString()).toBe('');
  });

  it('ignores malformed values instead of guessing', () => {
    const got = selectionFromParams(new URLSearchParams('subj=0&stim=-1&cond=dream&trial=1.5&rep=0&norm=yes&tab=nope'));
    expect(got).toEqual({});
    expect(selectionFromParams(new URLSearchParams('stim=0&rep=1'))).toEqual({ stimulus: 0, repeats: 1 });
  });

  it('reads ?bundle= (trimmed) and treats empty as the default', () => {
    expect(bundleUrlFromParams(new URLSearchParams('bundle=%20/data/b/%20'))).toBe('/data/b/');
    expect(bundleUrlFromParams(new URLSearchParams('bundle='))).toBeNull();
    expect(bundleUrlFromParams(new URLSearchParams(''))).toBeNull();
  });

  it('refuses a codec whose keys clash with the selection or the bundle', () => {
    const codec = (keys: string[]) => ({ keys, read() {}, write() {}, subscribe: () => () => {} });
    expect(() => registerUrlCodec(codec(['stim']))).toThrow(/"stim" is already used/);
    expect(() => registerUrlCodec(codec(['bundle']))).toThrow(/"bundle"/);
    expect(() => registerUrlCodec(codec(['unit-test-key']))).not.toThrow();
    expect(() => registerUrlCodec(codec(['unit-test-key']))).toThrow(/already used/);
  });
});
