// .npy read/write against files numpy.save wrote (test/fixtures/gen/npy.py).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BundleError } from '../../../src/core/base/errors.ts';
import { readNpy, writeNpy, type NpyDtype } from '../../../src/core/tensor/npy.ts';

const dir = join(import.meta.dirname, '../../fixtures/npy');
const load = (name: string) => new Uint8Array(readFileSync(join(dir, name)));

/** The formula of npy.py: ((i * 7) % 23) - 11, times 0.25 for floats, + 11 for unsigned. */
function pattern(n: number, kind: 'f' | 'i' | 'u'): number[] {
  return Array.from({ length: n }, (_, i) => {
    const b = ((i * 7) % 23) - 11;
    return kind === 'f' ? b * 0.25 : kind === 'u' ? b + 11 : b;
  });
}

const CASES: [string, NpyDtype, 'f' | 'i' | 'u', new (n: number) => ArrayLike<number>][] = [
  ['f2', '<f2', 'f', Float32Array],
  ['f4', '<f4', 'f', Float32Array],
  ['f8', '<f8', 'f', Float64Array],
  ['i4', '<i4', 'i', Int32Array],
  ['i8', '<i8', 'i', Float64Array],
  ['u1', '|u1', 'u', Uint8Array],
  ['u2', '<u2', 'u', Uint16Array],
  ['i2', '<i2', 'i', Int16Array],
];

describe('readNpy', () => {
  for (const [name, dtype, kind, Ctor] of CASES) {
    it(`reads numpy's ${dtype} [2,3,4]`, () => {
      const a = readNpy(load(`${name}_2x3x4.npy`), `${name}.npy`);
      expect(a.dtype).toBe(dtype);
      expect(a.shape).toEqual([2, 3, 4]);
      expect(a.fortranOrder).toBe(false);
      expect(a.data).toBeInstanceOf(Ctor);
      expect(Array.from(a.data)).toEqual(pattern(24, kind));
    });
  }

  it('keeps float16 bits with float16: raw', () => {
    const a = readNpy(load('f2_2x3x4.npy'), 'f2.npy', { float16: 'raw' });
    expect(a.data).toBeInstanceOf(Uint16Array);
    expect(a.data[0]).toBe(0xc180); // -11 * 0.25 = -2.75
    expect(a.data[1]).toBe(0xbc00); // (7 - 11) * 0.25 = -1.0
  });

  it('reads 1-D, 0-d, empty and version 2.0 files', () => {
    expect(readNpy(load('f4_vector.npy')).shape).toEqual([5]);
    const s = readNpy(load('f4_scalar.npy'));
    expect(s.shape).toEqual([]);
    expect(Array.from(s.data)).toEqual([2.5]);
    const e = readNpy(load('f4_empty.npy'));
    expect(e.shape).toEqual([0, 3]);
    expect(e.data.length).toBe(0);
    const v2 = load('f4_v2_3x4.npy');
    expect(v2[6]).toBe(2);
    const a = readNpy(v2);
    expect(a.shape).toEqual([3, 4]);
    expect(Array.from(a.data)).toEqual(pattern(12, 'f'));
  });

  it('refuses Fortran order and big-endian with an error naming the file and field', () => {
    expect(() => readNpy(load('f4_fortran_3x4.npy'), 'betas.npy')).toThrow(
      /betas\.npy: header\.fortran_order: Fortran-order/,
    );
    expect(() => readNpy(load('f4_bigendian_3x4.npy'), 'targets.npy')).toThrow(
      /targets\.npy: header\.descr: big-endian dtype '>f4'/,
    );
    try {
      readNpy(load('f4_bigendian_3x4.npy'), 'targets.npy');
    } catch (e) {
      expect(e).toBeInstanceOf(BundleError);
      expect((e as BundleError).file).toBe('targets.npy');
      expect((e as BundleError).field).toBe('header.descr');
    }
  });

  it('refuses non-npy bytes and truncated data', () => {
    expect(() => readNpy(new TextEncoder().encode('hello world, not numpy'), 'x.npy')).toThrow(/x\.npy: magic/);
    const good = load('f4_2x3x4.npy');
    expect(() => readNpy(good.subarray(0, good.length - 4), 'cut.npy')).toThrow(
      /cut\.npy: data: holds 92 bytes.*expected 96 bytes/,
    );
  });

  it('reads from an unaligned offset (copy) and from a shared buffer (view)', () => {
    const good = load('f4_2x3x4.npy');
    const shifted = new Uint8Array(good.length + 1);
    shifted.set(good, 1);
    expect(Array.from(readNpy(shifted.subarray(1)).data)).toEqual(pattern(24, 'f'));
  });
});

describe('writeNpy', () => {
  for (const [name, dtype, kind] of CASES) {
    it(`writes ${dtype} byte-identical to numpy.save`, () => {
      const out = writeNpy(pattern(24, kind), [2, 3, 4], dtype);
      expect(Buffer.from(out).equals(Buffer.from(load(`${name}_2x3x4.npy`)))).toBe(true);
    });
  }

  it('infers the dtype from the typed array and matches numpy for vectors and scalars', () => {
    expect(
      Buffer.from(writeNpy(Float32Array.from(pattern(5, 'f')), [5])).equals(Buffer.from(load('f4_vector.npy'))),
    ).toBe(true);
    expect(Buffer.from(writeNpy(new Float32Array([2.5]), [])).equals(Buffer.from(load('f4_scalar.npy')))).toBe(true);
    expect(Buffer.from(writeNpy(new Float32Array(0), [0, 3])).equals(Buffer.from(load('f4_empty.npy')))).toBe(true);
  });

  it('round-trips through readNpy and aligns data to 64 bytes', () => {
    const data = Float64Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 1e5);
    const bytes = writeNpy(data, [10, 100]);
    const a = readNpy(bytes);
    expect(a.dtype).toBe('<f8');
    expect(a.data).toEqual(data);
    expect((bytes.length - 8000) % 64).toBe(0);
  });

  it('rejects a shape that does not match the data', () => {
    expect(() => writeNpy(new Float32Array(5), [2, 3])).toThrow(/5 values for shape \(2, 3\)/);
  });
});
