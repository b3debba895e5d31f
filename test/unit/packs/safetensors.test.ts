// The safetensors reader: values of F32 / F16 / BF16 tensors, and every header field checked against
// the file before anything is read (truncated files and hostile headers name the file and the tensor).
import { describe, expect, it } from 'vitest';
import { bytesSource } from '../../../src/core/formats/byteSource.ts';
import { encodeSafetensors, MAX_HEADER_BYTES, openSafetensors, readSafetensorFloat32 } from '../../../src/core/formats/safetensors.ts';

const VALUES = Float32Array.from([0, 1, -2.5, 0.1, 65504, 1e-3, -0.333, 3.140625]);

/** A file from a raw header object and data bytes (to write headers the writer never would). */
function rawFile(header: unknown, data: Uint8Array, lenOverride?: bigint): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, lenOverride ?? BigInt(h.byteLength), true);
  out.set(h, 8);
  out.set(data, 8 + h.byteLength);
  return out;
}
const open = (b: Uint8Array) => openSafetensors(bytesSource(b, 'w.safetensors'));

describe('safetensors', () => {
  it('reads float32 exactly, float16 and bfloat16 as their rounded values; keeps the metadata', async () => {
    const bytes = encodeSafetensors(
      [
        { name: 'a.f32', dtype: 'F32', shape: [2, 4], data: VALUES },
        { name: 'a.f16', dtype: 'F16', shape: [8], data: VALUES },
        { name: 'a.bf16', dtype: 'BF16', shape: [4, 2], data: VALUES },
      ],
      { format: 'pt' },
    );
    expect((8 + new DataView(bytes.buffer).getUint32(0, true)) % 8).toBe(0);
    const f = await open(bytes);
    expect(f.metadata).toEqual({ format: 'pt' });
    expect([...f.tensors.keys()]).toEqual(['a.f32', 'a.f16', 'a.bf16']);
    expect(f.tensors.get('a.bf16')!.shape).toEqual([4, 2]);
    expect(Array.from(await readSafetensorFloat32(f, 'a.f32'))).toEqual(Array.from(VALUES));
    // float16: 11 significant bits; 65504 is its largest finite value.
    expect(Array.from(await readSafetensorFloat32(f, 'a.f16'))).toEqual([0, 1, -2.5, 0.0999755859375, 65504, 1049 / 2 ** 20, -0.3330078125, 3.140625]); // numpy's astype(float16)
    // bfloat16: 8 significant bits, rounded to nearest even (torch's rounding).
    expect(Array.from(await readSafetensorFloat32(f, 'a.bf16'))).toEqual([0, 1, -2.5, 0.10009765625, 65536, 0.00099945068359375, -0.33203125, 3.140625]); // torch's .to(torch.bfloat16)
  });

  it('refuses a truncated file, naming the tensor whose data is cut off', async () => {
    const bytes = encodeSafetensors([
      { name: 'first', dtype: 'F32', shape: [4], data: VALUES.subarray(0, 4) },
      { name: 'second', dtype: 'F32', shape: [4], data: VALUES.subarray(4) },
    ]);
    await expect(open(bytes.subarray(0, bytes.byteLength - 3))).rejects.toThrow(/w\.safetensors: tensor second\.data_offsets: data ends at byte \d+, the file has \d+ \(truncated\?\)/);
    await expect(open(bytes.subarray(0, 20))).rejects.toThrow(/w\.safetensors: header length: header length \d+ runs past the end of the file \(20 bytes; truncated\?\)/);
    await expect(open(bytes.subarray(0, 5))).rejects.toThrow(/file has 5 bytes/);
  });

  it('refuses hostile headers before reading any data', async () => {
    const d = new Uint8Array(16);
    await expect(open(rawFile({}, d, BigInt(MAX_HEADER_BYTES) + 1n))).rejects.toThrow(/header length 100000001 \(expected at most 100000000 bytes/);
    await expect(open(rawFile({}, d, 2n ** 63n))).rejects.toThrow(/header length 9223372036854775808/);
    await expect(open(rawFile([1, 2], d))).rejects.toThrow(/header: header is not a JSON object/);
    await expect(open(rawFile({ t: { dtype: 'F32', shape: [4], data_offsets: [0, 12] } }, d))).rejects.toThrow(/tensor t\.data_offsets: data_offsets \[0, 12\] hold 12 bytes, shape \[4\] of F32 needs 16/);
    await expect(open(rawFile({ t: { dtype: 'F32', shape: [4], data_offsets: [8, 4] } }, d))).rejects.toThrow(/tensor t\.data_offsets: data_offsets \[8,4\] \(expected \[begin, end\] with 0 <= begin <= end\)/);
    await expect(open(rawFile({ t: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, d))).rejects.toThrow(/tensor t\.shape: shape \[-1\]/);
    await expect(open(rawFile({ t: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }, d))).rejects.toThrow(/tensor t\.data_offsets/);
    await expect(open(rawFile({ t: { dtype: 'Q4', shape: [4], data_offsets: [0, 4] } }, d))).rejects.toThrow(/tensor t\.dtype: dtype "Q4" \(expected BOOL, U8/);
    const overlap = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } };
    await expect(open(rawFile(overlap, d))).rejects.toThrow(/tensor b\.data_offsets: data overlaps tensor a/);
    await expect(open(rawFile({ __metadata__: { n: 1 } }, d))).rejects.toThrow(/__metadata__: __metadata__ is not a map of strings/);
    const bad = rawFile({}, d);
    bad[8] = 0xff;
    await expect(open(bad)).rejects.toThrow(/header: header is not valid UTF-8 JSON/);
  });

  it('reads only float weights as floats, and names a tensor that is not there', async () => {
    const f = await open(rawFile({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(16)));
    await expect(readSafetensorFloat32(f, 'ids')).rejects.toThrow(/tensor ids\.dtype: dtype I64 \(expected F32, F16 or BF16 weights\)/);
    await expect(readSafetensorFloat32(f, 'nope')).rejects.toThrow(/w\.safetensors: tensor nope: no such tensor/);
  });
});
