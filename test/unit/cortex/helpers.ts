// Shared synthetic inputs for the cortex tests: seeded random heads, a grid mesh per hemisphere,
// and a straightforward full-recompute decoder used as the reference.
import type { FactoredHead } from '../../../src/core/cortex/types.ts';
import { predictHead, type LoadedHead } from '../../../src/core/decode/predict.ts';
import type { Head, HeadName } from '../../../src/core/bundle/manifest.ts';
import { mulberry32 } from '../../../src/core/base/rng.ts';

export const rng = mulberry32;

export function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

export function randn(n: number, r: () => number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => gauss(r) * scale);
}

export function makeHead(
  name: HeadName,
  nVox: number,
  rank: number,
  outputShape: number[],
  r: () => number,
  norms: { inputNorm?: Head['inputNorm']; outputNorm?: Head['outputNorm'] } = {},
): FactoredHead {
  const spec = { name, rank, outputShape, inputNorm: norms.inputNorm ?? 'none', outputNorm: norms.outputNorm ?? 'none' } as const;
  const out = outputShape.reduce((a, b) => a * b, 1);
  return { spec, A: randn(nVox * rank, r, 0.1), B: randn(rank * out, r, 0.3), intercept: randn(out, r, 0.5) };
}

/** decode(x) recomputed from scratch over every voxel with decode's plain-JS reference predictHead. */
export function fullDecode(h: FactoredHead, x: Float32Array): Float32Array {
  return predictHead(h as unknown as LoadedHead, x, 1);
}

/** A W x H grid of vertices 1 mm apart, two triangles per cell. */
export function gridMesh(w: number, h: number): { vertexCount: number; faces: Int32Array; positions: Float32Array } {
  const faces: number[] = [];
  for (let y = 0; y < h - 1; y++) {
    for (let x = 0; x < w - 1; x++) {
      const v = y * w + x;
      faces.push(v, v + 1, v + w, v + 1, v + w + 1, v + w);
    }
  }
  const positions = new Float32Array(w * h * 3);
  for (let v = 0; v < w * h; v++) {
    positions[3 * v] = v % w;
    positions[3 * v + 1] = Math.floor(v / w);
  }
  return { vertexCount: w * h, faces: Int32Array.from(faces), positions };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
