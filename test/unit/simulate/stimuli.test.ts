import { describe, expect, it } from 'vitest';
import { IMAGE_SIZE } from '../../../src/core/simulate/dims.ts';
import { orientedEnergy, ORIENTATIONS } from '../../../src/core/simulate/encoding.ts';
import { renderScene } from '../../../src/core/simulate/render.ts';
import { isHeldOut, SIMPLE_BAR_DEGREES, testStimuli, trainingScenes } from '../../../src/core/simulate/stimuli.ts';
import { caption } from '../../../src/core/simulate/world.ts';
import { Rng } from '../../../src/core/base/rng.ts';

const S = IMAGE_SIZE;

/** Orientation of the dark pixels' principal axis (degrees, counter-clockwise from horizontal, y up). */
function darkAxisDegrees(img: Uint8Array): number {
  let n = 0, mx = 0, my = 0;
  const pts: [number, number][] = [];
  for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) if (img[(y * S + x) * 3] < 64) { pts.push([x, -y]); mx += x; my += -y; n++; }
  mx /= n; my /= n;
  let sxx = 0, syy = 0, sxy = 0;
  for (const [x, y] of pts) { sxx += (x - mx) ** 2; syy += (y - my) ** 2; sxy += (x - mx) * (y - my); }
  const deg = (0.5 * Math.atan2(2 * sxy, sxx - syy) * 180) / Math.PI;
  return (deg + 180) % 180;
}

describe('simulated stimuli', () => {
  const stim = testStimuli(1);

  it('has the 18 NSD-Imagery stimuli: 6 simple, 6 complex, 6 conceptual, cues A–R', () => {
    expect(stim.map((s) => s.set)).toEqual([...Array(6).fill('simple'), ...Array(6).fill('complex'), ...Array(6).fill('conceptual')]);
    expect(stim.map((s) => s.cue).join('')).toBe('ABCDEFGHIJKLMNOPQR');
    for (const s of stim.slice(12)) {
      expect(s.scene).toBeUndefined();
      expect(s.variants!.length).toBeGreaterThan(1);
    }
  });

  it('simple stimuli are black bars on grey with the stated orientation', () => {
    SIMPLE_BAR_DEGREES.forEach((deg, i) => {
      const img = renderScene(stim[i].scene!);
      // grey background at a corner, black at the centre
      expect([img[0], img[1], img[2]]).toEqual([128, 128, 128]);
      const c = ((S / 2) * S + S / 2) * 3;
      expect(img[c]).toBeLessThan(40);
      const measured = darkAxisDegrees(img);
      const diff = Math.min(Math.abs(measured - deg), 180 - Math.abs(measured - deg));
      expect(diff).toBeLessThan(2);
      // only grey and black (plus antialiased edge pixels), no colour
      let coloured = 0;
      for (let p = 0; p < S * S; p++) if (img[p * 3] !== img[p * 3 + 1] || img[p * 3] !== img[p * 3 + 2]) coloured++;
      expect(coloured).toBe(0);
    });
  });

  it('"+" and "×" are crosses at 0 and 45 degrees', () => {
    const plus = renderScene(stim[4].scene!);
    const times = renderScene(stim[5].scene!);
    const dark = (img: Uint8Array, x: number, y: number) => img[(y * S + x) * 3] < 64;
    const off = 30;
    // "+": dark straight out from the centre, not on the diagonals; "×" the other way round
    expect(dark(plus, S / 2 + off, S / 2) && dark(plus, S / 2, S / 2 + off)).toBe(true);
    expect(dark(plus, S / 2 + off, S / 2 + off)).toBe(false);
    expect(dark(times, S / 2 + off, S / 2 + off) && dark(times, S / 2 - off, S / 2 + off)).toBe(true);
    expect(dark(times, S / 2 + off, S / 2)).toBe(false);
  });

  it('oriented energy peaks at the bar orientation', () => {
    SIMPLE_BAR_DEGREES.forEach((deg, i) => {
      const e = orientedEnergy(renderScene(stim[i].scene!));
      const tot = new Float64Array(4);
      for (let c = 0; c < 32 * 32; c++) for (let o = 0; o < 4; o++) tot[o] += e[c * 4 + o];
      expect(ORIENTATIONS[tot.indexOf(Math.max(...tot))]).toBe(deg);
    });
  });

  it('complex stimuli are held out of training and captions describe scenes', () => {
    const train = trainingScenes(1, 500);
    expect(train.some(isHeldOut)).toBe(false);
    for (const s of stim.slice(6, 12)) expect(isHeldOut(s.scene!)).toBe(true);
    expect(caption(stim[6].scene!)).toMatch(/red boat/);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = trainingScenes(3, 20).map((s) => renderScene(s));
    const b = trainingScenes(3, 20).map((s) => renderScene(s));
    const c = trainingScenes(4, 20).map((s) => renderScene(s));
    expect(a.every((x, i) => x.every((v, j) => v === b[i][j]))).toBe(true);
    expect(a.some((x, i) => x.some((v, j) => v !== c[i][j]))).toBe(true);
    const r1 = new Rng(9);
    const r2 = new Rng(9);
    expect([r1.next(), r1.normal()]).toEqual([r2.next(), r2.normal()]);
  });
});
