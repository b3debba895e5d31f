// Numbers -> a typed array of one element type, without a copy when they already are one
// (the bundle writer and the .npy writer both encode caller data this way).
type TypedCtor<T> = { new (n: number): T; from(src: ArrayLike<number>): T };

export function asTyped<T extends ArrayBufferView>(data: ArrayLike<number>, Ctor: TypedCtor<T>): T {
  return data instanceof (Ctor as unknown as typeof Float32Array) ? (data as unknown as T) : Ctor.from(data);
}
