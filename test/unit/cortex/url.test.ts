import { describe, expect, it } from 'vitest';
import { DEFAULT_CORTEX, cortexFromParams, cortexToParams, type CortexViewState } from '../../../src/state/cortexUrl.ts';

describe('cortex view <-> URL', () => {
  it('round-trips shape, overlay, ROI, perturbation stack, camera and presentation mode', () => {
    const s: CortexViewState = {
      shape: 'folded',
      overlay: { kind: 'weights', head: 'text', dim: 12 },
      roi: 'higher visual',
      stack: [
        { kind: 'gain', roi: 'V1', k: 0 },
        { kind: 'drive', roi: 'higher visual', head: 'image', stimulus: 4, strength: 0.75 },
      ],
      draft: false,
      camera: { position: [1.25, -300.04, 80], target: [0, -60, 10] },
      presentation: true,
    };
    const p = new URLSearchParams('subj=1&stim=3');
    cortexToParams(s, p);
    const back = cortexFromParams(new URLSearchParams(p.toString()));
    expect(back.shape).toBe('folded');
    expect(back.overlay).toEqual({ kind: 'weights', head: 'text', dim: 12 });
    expect(back.roi).toBe('higher visual');
    expect(back.stack).toEqual(s.stack);
    expect(back.camera).toEqual({ position: [1.3, -300, 80], target: [0, -60, 10] });
    expect(back.presentation).toBe(true);
    expect(p.get('subj')).toBe('1'); // other codecs' keys untouched
  });

  it('leaves defaults out of the URL and ignores malformed values', () => {
    const p = new URLSearchParams();
    cortexToParams(DEFAULT_CORTEX, p);
    expect(p.toString()).toBe('');
    const bad = cortexFromParams(new URLSearchParams('shape=cube&overlay=weights:nope&pert=%5B%7B%22kind%22%3A%22gain%22%7D%5D&cam=1,2,3'));
    expect(bad).toEqual({});
  });
});
