// Turns a TensorRef's bytes (little-endian, C order) into a typed array. Always copies into a fresh,
// aligned buffer: callers own the result and may mutate it without touching cached shard bytes.
import { decodeFloat16 } from '../tensor/float16.ts';
import { tensorByteLength, tensorElementCount, type DType, type TensorRef } from './manifest.ts';

export type TensorArray = Float32Array | Uint8Array | Int32Array | Uint32Array | Uint16Array;

/** `bytes` holds exactly the tensor's bytes. float16 is decoded to Float32Array unless `raw`. */
export function decodeTensorBytes(bytes: Uint8Array, dtype: DType, count: number, raw = false): TensorArray {
  const copy = bytes.slice(0, count * bytesOf(dtype)).buffer;
  switch (dtype) {
    case 'float16': {
      const bits = new Uint16Array(copy, 0, count);
      return raw ? bits : decodeFloat16(bits);
    }
    case 'float32':
      return new Float32Array(copy, 0, count);
    case 'uint8':
      return new Uint8Array(copy, 0, count);
    case 'int32':
      return new Int32Array(copy, 0, count);
    case 'uint32':
      return new Uint32Array(copy, 0, count);
  }
}

function bytesOf(d: DType): number {
  return d === 'uint8' ? 1 : d === 'float16' ? 2 : 4;
}

/** Decodes a tensor from its whole shard's bytes. */
export function decodeRef(shardBytes: Uint8Array, ref: TensorRef, raw = false): TensorArray {
  const n = tensorByteLength(ref);
  return decodeTensorBytes(shardBytes.subarray(ref.offset, ref.offset + n), ref.dtype, tensorElementCount(ref), raw);
}
