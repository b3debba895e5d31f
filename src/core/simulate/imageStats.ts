// Image statistics the simulation's docs and tests measure the demo generator with
// (docs/simulation.md §12): how much fine detail an image has, so "sharp scenes, not blurred means"
// is a number, not a look.
import { IMAGE_SIZE } from './dims.ts';
import { ENERGY_GRIDS, orientedEnergy } from './encoding.ts';
import { downsample, luminance, renderScene } from './render.ts';
import { testStimuli } from './stimuli.ts';

/**
 * High-frequency energy of an RGB uint8 image (IMAGE_SIZE², HWC): after 2x2 pooling to 64x64 (so
 * one-pixel antialiasing does not count), the mean squared difference of each pixel from the mean of
 * its 3x3 neighbourhood, per channel, in (0..1 intensity)². A blurred mean has little; edges have much.
 */
export function highFrequencyEnergy(d: Uint8Array, size = IMAGE_SIZE): number {
  if (d.length !== size * size * 3) throw new RangeError(`highFrequencyEnergy: ${d.length} bytes, expected ${size}x${size}x3`);
  const h = size / 2;
  const x = new Float32Array(h * h * 3);
  for (let y = 0; y < h; y++) for (let i = 0; i < h; i++) for (let c = 0; c < 3; c++) {
    let a = 0;
    for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]]) a += d[((2 * y + dy) * size + 2 * i + dx) * 3 + c];
    x[(y * h + i) * 3 + c] = a / 4 / 255;
  }
  let e = 0;
  let n = 0;
  for (let y = 1; y < h - 1; y++) for (let i = 1; i < h - 1; i++) for (let c = 0; c < 3; c++) {
    let b = 0;
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) b += x[((y + dy) * h + i + dx) * 3 + c];
    e += (x[(y * h + i) * 3 + c] - b / 9) ** 2;
    n++;
  }
  return e / n;
}

/**
 * Oriented energy of an RGB uint8 image (IMAGE_SIZE², HWC) on a cells × cells grid: the simulation's
 * early code at its finest grid (32², 4 orientations) summed over each cell; layout cell-major, then
 * 0°, 45°, 90°, 135° (as ORIENTATIONS). How much edge there is at each angle in each part of the image:
 * the demo pack's stage C weighs scenes by it at 4×4 (docs/simulation.md §12).
 */
export function orientedEnergyGrid(rgb: Uint8Array, cells: number, size = IMAGE_SIZE): Float64Array {
  const g0 = ENERGY_GRIDS[0];
  if (g0 % cells !== 0) throw new RangeError(`orientedEnergyGrid: ${cells} cells do not divide the ${g0}-cell energy grid`);
  const e = orientedEnergy(rgb, size);
  const f = g0 / cells;
  const out = new Float64Array(cells * cells * 4);
  for (let y = 0; y < g0; y++) {
    for (let x = 0; x < g0; x++) {
      const cell = (Math.floor(y / f) * cells + Math.floor(x / f)) * 4;
      for (let o = 0; o < 4; o++) out[cell + o] += e[(y * g0 + x) * 4 + o];
    }
  }
  return out;
}

/**
 * Dominant edge orientation of an RGB uint8 image (IMAGE_SIZE², HWC): the index (0°, 45°, 90°, 135°,
 * as ORIENTATIONS) with the most oriented energy summed over every pooled grid of the simulation's
 * early code. A bar stimulus's is its own
 * orientation, so a reconstruction "shows the bar at roughly the right orientation" when this matches
 * the bar's (4-way, chance 1/4).
 */
export function dominantOrientation(rgb: Uint8Array, size = IMAGE_SIZE): number {
  const e = orientedEnergy(rgb, size);
  const t = [0, 0, 0, 0];
  for (let i = 0; i < e.length; i++) t[i % 4] += e[i];
  return t.indexOf(Math.max(...t));
}

/** Cells per side of the bar-shape measure's luminance (8-px boxes: a bar a few pixels off still overlaps its template). */
const BAR_CELLS = 16;
/** Luminance of the four bar stimuli (0°, 45°, 90°, 135°) at BAR_CELLS², rendered once. */
let barLuminance: Float32Array[] | null = null;
const pooledLuminance = (rgb: Uint8Array) => luminance(downsample(rgb, IMAGE_SIZE, IMAGE_SIZE / BAR_CELLS), BAR_CELLS);

/**
 * Pearson r of an RGB uint8 image's luminance (IMAGE_SIZE², HWC; box-pooled to 16×16) with each of the
 * four bar stimuli's (0°, 45°, 90°, 135°, as ORIENTATIONS): a bar-shape measure. A dark bar on a plain background at
 * the bar's angle correlates highly with its own template; a scene whose edges merely run at that
 * angle (a horizon, stripes) does not, because the template is a thin dark line through the centre
 * on a flat field (docs/simulation.md §4.2).
 */
export function barTemplateCorrelations(rgb: Uint8Array, size = IMAGE_SIZE): number[] {
  if (size !== IMAGE_SIZE || rgb.length !== size * size * 3) throw new RangeError(`barTemplateCorrelations: ${rgb.length} bytes, expected ${IMAGE_SIZE}x${IMAGE_SIZE}x3`);
  barLuminance ??= testStimuli(0).slice(0, 4).map((s) => pooledLuminance(renderScene(s.scene!, IMAGE_SIZE)));
  const y = pooledLuminance(rgb);
  return barLuminance.map((t) => pearson(y, t));
}

function pearson(a: Float32Array, b: Float32Array): number {
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < a.length; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= a.length;
  mb /= b.length;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}
