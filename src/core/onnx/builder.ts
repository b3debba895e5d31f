// A tiny ONNX graph builder over onnx-proto: enough to write the demo's stand-in encoders (and test
// graphs) as real ONNX models from TypeScript, so the same bytes run in Node and in the browser.
// We wrote our own because the ONNX Python helpers are not available in the browser or the CLI.
import * as onnxModule from 'onnx-proto';

// onnx-proto is CommonJS: bundlers expose `onnx` as a named export, Node's ESM loader only as
// `default.onnx`. Accept both so the same module works in the CLI, vitest and the browser.
type OnnxNs = typeof onnxModule.onnx;
const onnx: OnnxNs =
  (onnxModule as { onnx?: OnnxNs }).onnx ?? (onnxModule as unknown as { default: { onnx: OnnxNs } }).default.onnx;
// eslint-disable-next-line @typescript-eslint/no-namespace
declare namespace onnx {
  type IValueInfoProto = onnxModule.onnx.IValueInfoProto;
  type IAttributeProto = onnxModule.onnx.IAttributeProto;
  type ITensorProto = onnxModule.onnx.ITensorProto;
  type INodeProto = onnxModule.onnx.INodeProto;
  type IModelProto = onnxModule.onnx.IModelProto;
}

export const OPSET = 17;
export const IR_VERSION = 8;

export type OnnxDType = 'float32' | 'float16' | 'int32' | 'int64' | 'uint8' | 'bool';

const DTYPE_CODE: Record<OnnxDType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  uint8: onnx.TensorProto.DataType.UINT8,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** A dimension: a fixed size, or a symbolic name (e.g. 'batch'). */
export type Dim = number | string;

export type AttrValue = number | string | number[] | string[] | { float: number } | { floats: number[] };

function valueInfo(name: string, dtype: OnnxDType, shape: Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DTYPE_CODE[dtype],
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttrValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') {
    // Integers are INT; use { float: x } for a float attribute that happens to be whole.
    return Number.isInteger(v) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
  }
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) {
    if (v.length && typeof v[0] === 'string') {
      return { name, type: T.STRINGS, strings: (v as string[]).map((s) => new TextEncoder().encode(s)) };
    }
    const nums = v as number[];
    return nums.every((x) => Number.isInteger(x)) ? { name, type: T.INTS, ints: nums } : { name, type: T.FLOATS, floats: nums };
  }
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.FLOATS, floats: v.floats };
}

function rawBytes(data: Float32Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array): Uint8Array {
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

export class GraphBuilder {
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly inits: onnx.ITensorProto[] = [];
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly names = new Set<string>();
  private counter = 0;
  /** Free-form metadata written into the model (e.g. role, stand-in description). */
  readonly metadata: Record<string, string> = {};

  constructor(readonly name: string) {}

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`GraphBuilder(${this.name}): value name "${name}" defined twice`);
    this.names.add(name);
  }

  /** A fresh value name with a readable prefix. */
  fresh(prefix = 't'): string {
    let n: string;
    do n = `${prefix}_${this.counter++}`;
    while (this.names.has(n));
    return n;
  }

  input(name: string, dtype: OnnxDType, shape: Dim[]): this {
    this.claim(name);
    this.inputs.push(valueInfo(name, dtype, shape));
    return this;
  }

  output(name: string, dtype: OnnxDType, shape: Dim[]): this {
    this.outputs.push(valueInfo(name, dtype, shape));
    return this;
  }

  /** A constant tensor (weights); float32 by default, int64 for shape tensors (pass a BigInt64Array or number[] with dtype 'int64'). */
  initializer(
    name: string,
    data: Float32Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array | number[],
    dims: number[],
    dtype?: OnnxDType,
  ): this {
    this.claim(name);
    const n = dims.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new RangeError(`initializer ${name}: ${data.length} values for dims [${dims.join(', ')}]`);
    if (data instanceof Uint16Array) {
      // float16 weights: the IEEE half bits (tensor/float16.ts encodeFloat16), stored raw.
      if (dtype !== 'float16') throw new TypeError(`initializer ${name}: Uint16Array data is float16 bits; pass dtype 'float16'`);
      this.inits.push({ name, dims, dataType: DTYPE_CODE.float16, rawData: rawBytes(data) });
      return this;
    }
    let typed: Float32Array | Int32Array | BigInt64Array | Uint8Array;
    let dt: OnnxDType;
    if (Array.isArray(data)) {
      dt = dtype ?? 'float32';
      typed =
        dt === 'int64'
          ? BigInt64Array.from(data.map((x) => BigInt(x)))
          : dt === 'int32'
            ? Int32Array.from(data)
            : dt === 'uint8'
              ? Uint8Array.from(data)
              : Float32Array.from(data);
    } else {
      typed = data;
      dt = data instanceof Float32Array ? 'float32' : data instanceof Int32Array ? 'int32' : data instanceof BigInt64Array ? 'int64' : 'uint8';
      if (dtype && dtype !== dt) throw new TypeError(`initializer ${name}: data is ${dt} but dtype ${dtype} was asked`);
    }
    this.inits.push({ name, dims, dataType: DTYPE_CODE[dt], rawData: rawBytes(typed) });
    return this;
  }

  /** Shorthand: an int64 1-D constant (shapes, axes). Returns its name. */
  int64s(values: number[], prefix = 'const'): string {
    const name = this.fresh(prefix);
    this.initializer(name, values, [values.length], 'int64');
    return name;
  }

  /** Shorthand: a float32 constant. Returns its name. */
  floats(data: Float32Array | number[], dims: number[], prefix = 'w'): string {
    const name = this.fresh(prefix);
    this.initializer(name, data instanceof Float32Array ? data : Float32Array.from(data), dims);
    return name;
  }

  node(opType: string, inputs: string[], outputs: string[], attrs?: Record<string, AttrValue>): this {
    for (const o of outputs) this.claim(o);
    this.nodes.push({
      opType,
      name: `${opType}_${this.nodes.length}`,
      input: inputs,
      output: outputs,
      attribute: attrs ? Object.entries(attrs).map(([k, v]) => attribute(k, v)) : [],
    });
    return this;
  }

  /** Adds a node with one fresh output and returns that output's name (for chaining). */
  op(opType: string, inputs: string[], attrs?: Record<string, AttrValue>, outName?: string): string {
    const out = outName ?? this.fresh(opType.toLowerCase());
    this.node(opType, inputs, [out], attrs);
    return out;
  }

  toModel(): onnx.IModelProto {
    return {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: 'mirage-explorer',
      producerVersion: '0.1.0',
      graph: { name: this.name, input: this.inputs, output: this.outputs, initializer: this.inits, node: this.nodes },
      metadataProps: Object.entries(this.metadata).map(([key, value]) => ({ key, value })),
    };
  }

  toBytes(): Uint8Array {
    if (!this.outputs.length) throw new Error(`GraphBuilder(${this.name}): no outputs declared`);
    return onnx.ModelProto.encode(onnx.ModelProto.create(this.toModel())).finish();
  }

  /**
   * The model with its large initializers moved to ONNX external data files, each file at most
   * `maxFileBytes` (a tensor is never split). Real checkpoints need this: a protobuf cannot pass
   * 2 GB, and files under the WebGPU default buffer limits can be fetched, cached and uploaded one
   * at a time. `fileName(i)` names the i-th data file, relative to the model file.
   */
  toBytesWithExternalData(opts: { fileName: (i: number) => string; maxFileBytes: number; minTensorBytes?: number }): { model: Uint8Array; files: { name: string; bytes: Uint8Array }[] } {
    if (!this.outputs.length) throw new Error(`GraphBuilder(${this.name}): no outputs declared`);
    const model = this.toModel();
    const chunks: { name: string; parts: Uint8Array[]; size: number }[] = [];
    const minBytes = opts.minTensorBytes ?? 1024;
    const inits = (model.graph?.initializer ?? []).map((t) => {
      const raw = t.rawData as Uint8Array | undefined;
      if (!raw || raw.byteLength < minBytes) return t;
      if (raw.byteLength > opts.maxFileBytes) throw new RangeError(`initializer ${t.name}: ${raw.byteLength} bytes exceed the ${opts.maxFileBytes}-byte data file limit`);
      let c = chunks[chunks.length - 1];
      const pad = c ? (16 - (c.size % 16)) % 16 : 0; // 16-byte aligned offsets
      if (!c || c.size + pad + raw.byteLength > opts.maxFileBytes) {
        c = { name: opts.fileName(chunks.length), parts: [], size: 0 };
        chunks.push(c);
      } else if (pad) {
        c.parts.push(new Uint8Array(pad));
        c.size += pad;
      }
      const offset = c.size;
      c.parts.push(raw);
      c.size += raw.byteLength;
      return {
        ...t,
        rawData: undefined,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: c.name },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(raw.byteLength) },
        ],
      };
    });
    const files = chunks.map((c) => {
      const bytes = new Uint8Array(c.size);
      let o = 0;
      for (const p of c.parts) {
        bytes.set(p, o);
        o += p.byteLength;
      }
      return { name: c.name, bytes };
    });
    const bytes = onnx.ModelProto.encode(onnx.ModelProto.create({ ...model, graph: { ...model.graph, initializer: inits } })).finish();
    return { model: bytes, files };
  }
}

export interface ValueSignature {
  name: string;
  /** The element type ('other' for types this project never feeds). */
  dtype: OnnxDType | 'other';
  /** Fixed sizes as numbers, symbolic ones by name ('?' when unnamed). */
  shape: Dim[];
}

/**
 * The inputs and outputs of an ONNX model someone else exported (e.g. a transformers.js folder), and
 * the external-data files its initializers name, without running it. Initializer bytes stay views.
 */
export function readOnnxSignature(bytes: Uint8Array): { inputs: ValueSignature[]; outputs: ValueSignature[]; externalFiles: string[] } {
  const m = onnx.ModelProto.decode(bytes);
  const byCode = new Map(Object.entries(DTYPE_CODE).map(([k, v]) => [v, k as OnnxDType]));
  const sig = (v: onnx.IValueInfoProto): ValueSignature => {
    const t = v.type?.tensorType;
    return {
      name: v.name ?? '',
      dtype: byCode.get(t?.elemType ?? -1) ?? 'other',
      shape: (t?.shape?.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null && Number(d.dimValue) > 0 ? Number(d.dimValue) : d.dimParam || '?')),
    };
  };
  const inits = new Set((m.graph?.initializer ?? []).map((t) => t.name));
  const external = new Set<string>();
  for (const t of m.graph?.initializer ?? []) {
    for (const e of t.externalData ?? []) if (e.key === 'location' && e.value) external.add(e.value);
  }
  return {
    // Older exporters list initializers among the inputs; they are not fed.
    inputs: (m.graph?.input ?? []).filter((v) => !inits.has(v.name ?? '')).map(sig),
    outputs: (m.graph?.output ?? []).map(sig),
    externalFiles: [...external],
  };
}

/**
 * A 2-D Conv node with every attribute written out. onnxruntime-web's WebGPU EP rejects a Conv whose
 * `dilations` attribute is absent ("dilations should be 2D", test/browser/webgpu-graphs.spec.ts),
 * although ONNX defines the default (1 per spatial axis); writing the defaults keeps the math identical.
 */
export function conv2d(
  g: GraphBuilder,
  inputs: string[],
  kernel: [number, number],
  opts: { strides?: [number, number]; pads?: [number, number, number, number]; group?: number } = {},
): string {
  // group = channels makes it depthwise (ConvNeXt-style blocks, EfficientNet).
  return g.op('Conv', inputs, { kernel_shape: kernel, strides: opts.strides ?? [1, 1], pads: opts.pads ?? [0, 0, 0, 0], dilations: [1, 1], group: opts.group ?? 1 });
}
