// Loads the parity fixtures written by test/fixtures/gen/evaluate.py.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'fflate';
import type { FloatImage } from '../../../src/core/evaluate/image.ts';
import { fromUint8 } from '../../../src/core/evaluate/image.ts';

const DIR = new URL('../../fixtures/evaluate/', import.meta.url);

interface ArrayInfo {
  dtype: 'float32' | 'uint8';
  shape: number[];
  offset: number;
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const cases: any = JSON.parse(readFileSync(new URL('cases.json', DIR), 'utf8'));
const blob = gunzipSync(new Uint8Array(readFileSync(new URL('arrays.bin.gz', DIR))));

export function array(name: string): { info: ArrayInfo; data: Float32Array | Uint8Array } {
  const info = cases.arrays[name] as ArrayInfo | undefined;
  if (!info) throw new Error(`fixture array ${name} missing`);
  const n = info.shape.reduce((a, b) => a * b, 1);
  const data =
    info.dtype === 'float32'
      ? new Float32Array(blob.buffer.slice(blob.byteOffset + info.offset, blob.byteOffset + info.offset + 4 * n))
      : blob.slice(info.offset, info.offset + n);
  return { info, data };
}

/** An HWC fixture image as float32 in [0,1] (uint8 arrays are divided by 255 like the Python side). */
export function image(name: string): FloatImage {
  const { info, data } = array(name);
  const [h, w, c] = info.shape;
  if (data instanceof Uint8Array) return fromUint8(data, w, h, c);
  return { data: data as Float32Array, width: w, height: h, channels: c };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
