// Checkpoint tensors as ONNX initializers, shared by the transformer packers (CLIP's vision tower,
// GiT's text decoder): each tensor is read once, checked shapes come from the packer's key table,
// PyTorch Linear weights [out, in] are stored transposed [in, out] so every projection is one
// MatMul, and a float16 build stores half-precision constants (the packer casts at the graph's ends).
import type { GraphBuilder } from '../../onnx/builder.ts';
import { encodeFloat16 } from '../../tensor/float16.ts';
import type { Checkpoint } from './checkpoint.ts';

/** Weights and arithmetic in float32 (every backend), or float16 (WebGPU with shader-f16: half the bytes). */
export type GraphPrecision = 'float32' | 'float16';

/** ONNX TensorProto data types, for Cast between a float16 graph and its float32 contract. */
export const ONNX_FLOAT = 1;
export const ONNX_HALF = 10;

export interface GraphProgress {
  (done: number, total: number, label: string): void;
}

export function transpose2d(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

export interface GraphWeights {
  /** A constant in the graph's float type. */
  konst(data: Float32Array, dims: number[], name: string): string;
  /** The checkpoint tensor `key` as an initializer (transposed when `transposed`). */
  w(key: string, transposed?: boolean): Promise<string>;
  /** x·Wᵀ + b of the Linear under `key` (`key.weight`, `key.bias`). */
  linear(x: string, key: string): Promise<string>;
  /** LayerNorm over the last axis with `key.weight`, `key.bias`. */
  layerNorm(x: string, key: string, eps: number): Promise<string>;
}

export function graphWeights(
  g: GraphBuilder,
  ck: Checkpoint,
  shapes: Map<string, number[]>,
  opts: { precision?: GraphPrecision; onProgress?: GraphProgress } = {},
): GraphWeights {
  const f16 = opts.precision === 'float16';
  const total = shapes.size;
  let done = 0;
  const konst = (data: Float32Array, dims: number[], name: string): string => {
    if (f16) g.initializer(name, encodeFloat16(data), dims, 'float16');
    else g.initializer(name, data, dims);
    return name;
  };
  const w = async (key: string, transposed = false): Promise<string> => {
    const data = await ck.read(key);
    const shape = shapes.get(key) as number[];
    const name = transposed ? konst(transpose2d(data, shape[0], shape[1]), [shape[1], shape[0]], `${key}.T`) : konst(data, shape, key);
    opts.onProgress?.(++done, total, key);
    return name;
  };
  return {
    konst,
    w,
    linear: async (x, key) => g.op('Add', [g.op('MatMul', [x, await w(`${key}.weight`, true)]), await w(`${key}.bias`)]),
    layerNorm: async (x, key, eps) => g.op('LayerNormalization', [x, await w(`${key}.weight`), await w(`${key}.bias`)], { axis: -1, epsilon: { float: eps } }),
  };
}
