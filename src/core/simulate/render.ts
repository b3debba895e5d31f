// Rasterises SIMULATED scenes into RGB images with signed-distance shapes and one-pixel antialiasing.
// Shapes are defined in object-local units (the object's half-size is 1); y points up locally.
import { IMAGE_SIZE } from './dims.ts';
import { COLOURS, type Background, type ObjectClass, type Scene, type SceneObject } from './world.ts';

type Sdf = (x: number, y: number) => number;

function box(x: number, y: number, hx: number, hy: number): number {
  const dx = Math.abs(x) - hx;
  const dy = Math.abs(y) - hy;
  return Math.hypot(Math.max(dx, 0), Math.max(dy, 0)) + Math.min(Math.max(dx, dy), 0);
}
function circle(x: number, y: number, r: number): number {
  return Math.hypot(x, y) - r;
}
function ellipse(x: number, y: number, a: number, b: number): number {
  return (Math.hypot(x / a, y / b) - 1) * Math.min(a, b);
}
/** Triangle with apex (0, top) and base from (-hw, base) to (hw, base); approximate distance. */
function triangle(x: number, y: number, hw: number, base: number, top: number): number {
  const h = top - base;
  const nx = h / Math.hypot(h, hw);
  const ny = hw / Math.hypot(h, hw);
  const side = (Math.abs(x) * nx + (y - top) * ny);
  return Math.max(side, base - y);
}
const union = (a: number, b: number) => Math.min(a, b);

export const SHAPES: Record<ObjectClass, Sdf> = {
  ball: (x, y) => circle(x, y, 1),
  box: (x, y) => box(x, y, 0.8, 0.8),
  ring: (x, y) => Math.abs(Math.hypot(x, y) - 0.75) - 0.22,
  star: (x, y) => {
    const r = Math.hypot(x, y);
    const t = Math.atan2(y, x);
    return (r - (0.62 + 0.36 * Math.cos(5 * t))) * 0.6;
  },
  banana: (x, y) => Math.max(circle(x, y, 1), -circle(x - 0.25, y - 0.45, 0.95)),
  apple: (x, y) => union(circle(x, y + 0.1, 0.85), box(x - 0.05, y - 0.85, 0.07, 0.22)),
  fish: (x, y) => union(ellipse(x + 0.15, y, 0.75, 0.42), triangle(-(y), x - 0.55, 0.4, 0, 0.45)),
  bird: (x, y) => union(box(x * 0.707 - y * 0.707 + 0.45, x * 0.707 + y * 0.707, 0.55, 0.12), box(x * 0.707 + y * 0.707 - 0.45, -x * 0.707 + y * 0.707, 0.55, 0.12)),
  tree: (x, y) => union(triangle(x, y, 0.75, -0.45, 1), box(x, y + 0.72, 0.15, 0.28)),
  house: (x, y) => union(box(x, y + 0.35, 0.7, 0.55), triangle(x, y, 0.9, 0.2, 0.95)),
  tower: (x, y) => box(x, y, 0.32, 1),
  boat: (x, y) => union(Math.max(ellipse(x, y + 0.1, 1, 0.45), y + 0.1), triangle(x - 0.1, y, 0.45, -0.05, 0.95)),
  bar: (x, y) => box(x, y, 1, 0.1),
  cross: (x, y) => union(box(x, y, 1, 0.1), box(x, y, 0.1, 1)),
};

/** Integer hash of a pixel position, for deterministic textures. */
function hash2(x: number, y: number, k: number): number {
  let h = Math.imul(x * 374761393 + y * 668265263 + k * 2147483647, 1274126177);
  h ^= h >>> 13;
  h = Math.imul(h, 1274126177);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

function backgroundPixel(bg: Background, u: number, v: number, px: number, py: number): [number, number, number] {
  switch (bg) {
    case 'grey':
      return [128, 128, 128];
    case 'grass':
      return v < 0.4 ? [150 + 60 * v, 190 + 40 * v, 240] : [50 + 30 * hash2(px, py, 1), 140 + 40 * hash2(px, py, 2), 50];
    case 'sky':
      return [110 + 100 * v, 160 + 70 * v, 245];
    case 'sand':
      return [215 - 20 * v + 12 * hash2(px, py, 3), 190 - 20 * v + 12 * hash2(px, py, 3), 140 - 20 * v];
    case 'water': {
      const w = Math.sin(u * 25 + Math.sin(v * 9) * 2 + v * 6);
      return [30 + 20 * w, 90 + 30 * w + 40 * v, 170 + 30 * w];
    }
    case 'night':
      return hash2(px, py, 4) > 0.985 ? [235, 235, 200] : [15, 20, 50 + 30 * v];
    case 'room':
      return v < 0.65 ? [220, 200, 170] : [120, 80, 50];
  }
}

/** Fraction of a pixel covered by the object and its local coordinates there. */
function objectCoverage(o: SceneObject, px: number, py: number, size: number): { cover: number; lx: number; ly: number } {
  const s = o.size * size;
  const dx = (px + 0.5 - o.x * size) / s;
  const dy = -(py + 0.5 - o.y * size) / s;
  const c = Math.cos(o.angle);
  const sn = Math.sin(o.angle);
  const lx = c * dx + sn * dy;
  const ly = -sn * dx + c * dy;
  if (Math.abs(lx) > 1.6 || Math.abs(ly) > 1.6) return { cover: 0, lx, ly };
  const d = SHAPES[o.cls](lx, ly) * s; // in pixels
  return { cover: Math.min(1, Math.max(0, 0.5 - d)), lx, ly };
}

function objectColour(o: SceneObject, lx: number, ly: number): [number, number, number] {
  const base = COLOURS[o.colour];
  let lighten = 0;
  if (o.pattern === 'stripes') lighten = Math.floor((lx + 2) * 3) % 2 === 0 ? 0 : 0.6;
  else if (o.pattern === 'dots') lighten = Math.hypot(((lx + 2) * 3) % 1 - 0.5, ((ly + 2) * 3) % 1 - 0.5) < 0.25 ? 0.6 : 0;
  const target = o.colour === 'white' ? 40 : 255;
  return [base[0] + (target - base[0]) * lighten, base[1] + (target - base[1]) * lighten, base[2] + (target - base[2]) * lighten];
}

/** Renders a scene to uint8 RGB [size, size, 3] (row-major, HWC). */
export function renderScene(scene: Scene, size = IMAGE_SIZE): Uint8Array {
  const buf = new Float32Array(size * size * 3);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      const [r, g, b] = backgroundPixel(scene.background, px / size, py / size, px, py);
      const i = (py * size + px) * 3;
      buf[i] = r;
      buf[i + 1] = g;
      buf[i + 2] = b;
    }
  }
  for (const o of scene.objects) {
    // only the object's bounding square (local |x|, |y| <= 1.6, any rotation)
    const reach = 1.6 * Math.SQRT2 * o.size * size + 1;
    const x0 = Math.max(0, Math.floor(o.x * size - reach));
    const x1 = Math.min(size - 1, Math.ceil(o.x * size + reach));
    const y0 = Math.max(0, Math.floor(o.y * size - reach));
    const y1 = Math.min(size - 1, Math.ceil(o.y * size + reach));
    for (let py = y0; py <= y1; py++) {
      for (let px = x0; px <= x1; px++) {
        const { cover, lx, ly } = objectCoverage(o, px, py, size);
        if (cover <= 0) continue;
        const [or, og, ob] = objectColour(o, lx, ly);
        const i = (py * size + px) * 3;
        buf[i] += (or - buf[i]) * cover;
        buf[i + 1] += (og - buf[i + 1]) * cover;
        buf[i + 2] += (ob - buf[i + 2]) * cover;
      }
    }
  }
  const out = new Uint8Array(size * size * 3);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(Math.min(255, Math.max(0, buf[i])));
  return out;
}

/** uint8 HWC -> float32 CHW in [0, 1] (the layout the ONNX encoders take). */
export function toCHW(rgb: Uint8Array, size: number, out?: Float32Array, offset = 0): Float32Array {
  const n = size * size;
  const dst = out ?? new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    dst[offset + i] = rgb[i * 3] / 255;
    dst[offset + n + i] = rgb[i * 3 + 1] / 255;
    dst[offset + 2 * n + i] = rgb[i * 3 + 2] / 255;
  }
  return dst;
}

/** Box-downsamples uint8 HWC by an integer factor. */
export function downsample(rgb: Uint8Array, size: number, factor: number): Uint8Array {
  const s = size / factor;
  if (!Number.isInteger(s)) throw new RangeError(`downsample: ${size} not divisible by ${factor}`);
  const out = new Uint8Array(s * s * 3);
  const k = factor * factor;
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        for (let dy = 0; dy < factor; dy++) for (let dx = 0; dx < factor; dx++) acc += rgb[((y * factor + dy) * size + x * factor + dx) * 3 + c];
        out[(y * s + x) * 3 + c] = Math.round(acc / k);
      }
    }
  }
  return out;
}

/** Luminance (Rec. 601 weights) in [0, 1] of uint8 HWC, [size*size]. */
export function luminance(rgb: Uint8Array, size: number): Float32Array {
  const out = new Float32Array(size * size);
  for (let i = 0; i < out.length; i++) out[i] = (0.299 * rgb[i * 3] + 0.587 * rgb[i * 3 + 1] + 0.114 * rgb[i * 3 + 2]) / 255;
  return out;
}
