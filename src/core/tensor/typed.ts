// Numbers -> a typed array of one element type, without a copy when they already are one
// (the bundle writer and the .npy writer both encode caller data this way).
type TypedCtor<T> = { new (n: number): T; from(src: ArrayLike<number>): T };

/** The typed arrays a dtype table may name: viewed over bytes on read, built from numbers on write. */
export type PlainTypedArray =
  Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array;
export type PlainTypedCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): PlainTypedArray;
  new (n: number): PlainTypedArray;
  from(src: ArrayLike<number>): PlainTypedArray;
};

export function asTyped<T extends ArrayBufferView>(data: ArrayLike<number>, Ctor: TypedCtor<T>): T {
  return data instanceof (Ctor as unknown as typeof Float32Array) ? (data as unknown as T) : Ctor.from(data);
}

/**
 * The bytes of a typed array, in place (no copy). Every platform we run on (x86, ARM, browsers) is
 * little-endian, which both the bundle format and .npy require.
 */
export function bytesOf(typed: ArrayBufferView): Uint8Array {
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
}

/** The bytes of several arrays one after another, in one new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.byteLength, 0));
  let o = 0;
  for (const part of parts) {
    out.set(part, o);
    o += part.byteLength;
  }
  return out;
}
