// Colour maps of the overlays (d3): diverging for signed values (betas, perturbations, a weight
// dimension), sequential for non-negative ones (weight norms). Symmetric limits from a robust
// percentile so one outlier voxel does not wash the map out.
import * as d3 from 'd3';

export interface ColorScale {
  domain: [number, number];
  diverging: boolean;
  interpolator: (t: number) => string;
  label: string;
}

export function robustLimit(values: Float32Array[], q = 0.98): number {
  const all: number[] = [];
  for (const v of values) for (let i = 0; i < v.length; i += Math.max(1, Math.floor(v.length / 20000))) if (Number.isFinite(v[i])) all.push(Math.abs(v[i]));
  if (!all.length) return 1;
  all.sort((a, b) => a - b);
  return all[Math.min(all.length - 1, Math.floor(q * all.length))] || 1;
}

export function makeScale(values: Float32Array[], signed: boolean, label: string): ColorScale {
  const lim = robustLimit(values);
  if (signed) return { domain: [-lim, lim], diverging: true, interpolator: (t) => d3.interpolateRdBu(1 - t), label };
  return { domain: [0, lim], diverging: false, interpolator: d3.interpolateInferno, label };
}

/** Fills an RGB float array (0..1) for per-vertex values; NaN -> neutral grey. */
export function colorize(values: Float32Array | null, scale: ColorScale | null, out: Float32Array): void {
  const grey = 0.42;
  const lut = new Float32Array(256 * 3);
  if (scale) {
    for (let i = 0; i < 256; i++) {
      const c = d3.rgb(scale.interpolator(i / 255));
      lut[3 * i] = c.r / 255;
      lut[3 * i + 1] = c.g / 255;
      lut[3 * i + 2] = c.b / 255;
    }
  }
  const n = out.length / 3;
  const [lo, hi] = scale?.domain ?? [0, 1];
  for (let v = 0; v < n; v++) {
    const x = values ? values[v] : NaN;
    if (!scale || !Number.isFinite(x)) {
      out[3 * v] = out[3 * v + 1] = out[3 * v + 2] = grey;
      continue;
    }
    const t = Math.max(0, Math.min(255, Math.round(((x - lo) / (hi - lo)) * 255)));
    out[3 * v] = lut[3 * t];
    out[3 * v + 1] = lut[3 * t + 1];
    out[3 * v + 2] = lut[3 * t + 2];
  }
}

export function hexToRgb(hex: string): [number, number, number] {
  const c = d3.rgb(hex);
  return [c.r / 255, c.g / 255, c.b / 255];
}
