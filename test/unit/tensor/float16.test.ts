// float16.ts against numpy's float16 (test/fixtures/gen/npy.py): every bit pattern decoded, and
// float32 -> float16 rounding on ties, one-ulp neighbours, subnormals, overflow, inf, NaN, random bits.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeFloat16, encodeFloat16, fromHalf, toHalf } from '../../../src/core/tensor/float16.ts';
import { readNpy } from '../../../src/core/tensor/npy.ts';

const dir = join(import.meta.dirname, '../../fixtures/npy');
const load = (name: string) => readNpy(new Uint8Array(readFileSync(join(dir, name))), name);

const isHalfNaN = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

describe('float16 vs numpy', () => {
  it('decodes all 65536 bit patterns exactly as numpy does', () => {
    const expected = load('f16_all_bits.npy').data as Float32Array;
    expect(expected.length).toBe(65536);
    const bits = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const table = decodeFloat16(bits);
    let mismatches = 0;
    for (let i = 0; i < 65536; i++) {
      const e = expected[i];
      const ok = Number.isNaN(e)
        ? Number.isNaN(table[i]) && Number.isNaN(fromHalf(i))
        : Object.is(table[i], e) && Object.is(fromHalf(i), e);
      if (!ok) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it('rounds float32 to float16 exactly as numpy (ties to even, subnormals, overflow)', () => {
    const inputs = load('f16_inputs.npy').data as Float32Array;
    const expected = load('f16_expected.npy').data as Uint16Array;
    expect(inputs.length).toBe(expected.length);
    expect(inputs.length).toBeGreaterThan(100_000);
    const got = encodeFloat16(inputs);
    const bad: string[] = [];
    let nans = 0;
    for (let i = 0; i < inputs.length; i++) {
      if (isHalfNaN(expected[i])) {
        // numpy keeps the top payload bits of a NaN; we emit the canonical quiet NaN. Both must be
        // NaN with the same sign.
        nans++;
        if (!isHalfNaN(got[i]) || (got[i] & 0x8000) !== (expected[i] & 0x8000)) bad.push(`NaN at ${i}`);
      } else if (got[i] !== expected[i]) {
        bad.push(`${inputs[i]} -> ${got[i].toString(16)} (numpy ${expected[i].toString(16)})`);
      }
      if (bad.length > 5) break;
    }
    expect(bad).toEqual([]);
    expect(nans).toBeGreaterThan(10); // random bit patterns include NaNs, so the branch is exercised
  });

  it('specific edges', () => {
    expect(toHalf(65504)).toBe(0x7bff);
    expect(toHalf(65520)).toBe(0x7c00); // halfway to 65536 rounds to even = inf
    expect(toHalf(2 ** -24)).toBe(0x0001);
    expect(toHalf(2 ** -25)).toBe(0x0000); // tie to even
    expect(toHalf(-0)).toBe(0x8000);
    expect(toHalf(-Infinity)).toBe(0xfc00);
    expect(fromHalf(0x3c00)).toBe(1);
  });
});
