// The image statistics docs/simulation.md measures the demo generator with, and the orientation
// descriptor the demo pack's stage C weighs scenes by (§12): checked on rendered bars, whose angle and
// place are known.
import { describe, expect, it } from 'vitest';
import { barTemplateCorrelations, dominantOrientation, orientedEnergyGrid } from '../../../src/core/simulate/imageStats.ts';
import { renderScene } from '../../../src/core/simulate/render.ts';
import { SIMPLE_BAR_DEGREES } from '../../../src/core/simulate/stimuli.ts';
import type { Scene } from '../../../src/core/simulate/world.ts';

const barScene = (deg: number, x = 0.5, y = 0.5, size = 0.36): Scene => ({
  background: 'grey',
  objects: [{ cls: 'bar', colour: 'black', pattern: 'plain', x, y, size, angle: (deg * Math.PI) / 180 }],
});

describe('image statistics of the simulation', () => {
  it('a bar\'s dominant orientation is its own angle', () => {
    SIMPLE_BAR_DEGREES.forEach((deg, i) => expect(dominantOrientation(renderScene(barScene(deg)))).toBe(i));
  });

  it('orientedEnergyGrid puts a short bar\'s energy in its cell and at its angle', () => {
    // a short vertical bar in the top-left quadrant: on a 2x2 grid, cell 0 holds most energy, at 90°
    const g = orientedEnergyGrid(renderScene(barScene(90, 0.25, 0.25, 0.12)), 2);
    expect(g.length).toBe(2 * 2 * 4);
    const cell = (c: number) => g[c * 4] + g[c * 4 + 1] + g[c * 4 + 2] + g[c * 4 + 3];
    for (const c of [1, 2, 3]) expect(cell(0)).toBeGreaterThan(3 * cell(c));
    expect(g.indexOf(Math.max(...g.subarray(0, 4)))).toBe(2);
  });

  it('a 1x1 grid is the total oriented energy per angle, the sum of any finer grid', () => {
    const img = renderScene(barScene(45));
    const one = orientedEnergyGrid(img, 1);
    const four = orientedEnergyGrid(img, 4);
    for (let o = 0; o < 4; o++) {
      let s = 0;
      for (let c = 0; c < 16; c++) s += four[c * 4 + o];
      expect(s).toBeCloseTo(one[o], 6);
    }
    expect(one.indexOf(Math.max(...one))).toBe(1);
  });

  it('refuses a grid that does not divide the energy grid', () => {
    expect(() => orientedEnergyGrid(renderScene(barScene(0)), 3)).toThrow(/3 cells do not divide the 32-cell/);
  });

  it('barTemplateCorrelations: a bar correlates with its own angle\'s template, a scene with edges at that angle does not', () => {
    SIMPLE_BAR_DEGREES.forEach((deg, i) => {
      const c = barTemplateCorrelations(renderScene(barScene(deg)));
      expect(c[i]).toBeCloseTo(1, 5);
      for (let j = 0; j < 4; j++) if (j !== i) expect(c[j]).toBeLessThan(0.5);
      // a shorter bar of another colour, a little off centre, is still closest to its own angle
      const other = barTemplateCorrelations(renderScene({ background: 'grey', objects: [{ cls: 'bar', colour: 'blue', pattern: 'plain', x: 0.47, y: 0.53, size: 0.28, angle: (deg * Math.PI) / 180 }] }));
      expect(other.indexOf(Math.max(...other))).toBe(i);
      expect(other[i]).toBeGreaterThan(0.3);
    });
    // a horizon (sky over grass) has its strongest edges at 0°, yet is no bar
    const horizon = renderScene({ background: 'grass', objects: [] });
    expect(dominantOrientation(horizon)).toBe(0);
    expect(barTemplateCorrelations(horizon)[0]).toBeLessThan(0.3);
  });
});
