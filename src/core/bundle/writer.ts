// Builds a bundle: tensors are appended to named shards, each shard is hashed and handed to a
// ShardSink (the CLI's sink writes into a temporary folder that is renamed into place at the end,
// so a failed build never leaves a half-written bundle behind).
import { encodeFloat16 } from '../tensor/float16.ts';
import { asTyped, bytesOf, type PlainTypedCtor } from '../tensor/typed.ts';
import {
  DTYPE_BYTES,
  FORMAT_NAME,
  FORMAT_VERSION,
  MANIFEST_FILE,
  ManifestSchema,
  type DType,
  type Manifest,
  type Shard,
  type TensorRef,
} from './manifest.ts';
import { checkManifest } from './checks.ts';
import { sha256Hex } from './sha256.ts';

export interface ShardSink {
  /** Writes one whole file of the bundle (shards and manifest.json). */
  write(path: string, bytes: Uint8Array): Promise<void>;
}

export type TensorData = ArrayLike<number> & { length: number };

/** The dtypes stored as one typed array's bytes as they are (float16 needs encoding). */
const DTYPE_TYPED: Record<Exclude<DType, 'float16'>, PlainTypedCtor> = {
  float32: Float32Array,
  uint8: Uint8Array,
  int32: Int32Array,
  uint32: Uint32Array,
};

/** Encodes numbers as little-endian bytes of the given dtype (float16 rounds to nearest even). */
export function encodeTensor(data: TensorData, dtype: DType): Uint8Array {
  if (dtype === 'float16') return bytesOf(data instanceof Uint16Array ? data : encodeFloat16(data));
  return bytesOf(asTyped(data, DTYPE_TYPED[dtype]));
}

/** The manifest without the fields the writer fills in itself. */
export type ManifestBody = Omit<Manifest, 'format' | 'version' | 'shards'>;

export class BundleWriter {
  private readonly pending = new Map<string, Uint8Array[]>();
  private readonly sizes = new Map<string, number>();
  private readonly done: Shard[] = [];

  constructor(private readonly sink: ShardSink) {}

  /**
   * Appends a tensor to shard `shardPath` (created on first use) and returns its reference.
   * Offsets are aligned to the element size so readers can view the bytes without copying.
   */
  addTensor(shardPath: string, data: TensorData, dtype: DType, shape: number[]): TensorRef {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== data.length) {
      throw new RangeError(`addTensor(${shardPath}): ${data.length} values for shape [${shape.join(', ')}] (${n})`);
    }
    if (this.done.some((s) => s.path === shardPath)) throw new Error(`shard ${shardPath} is already closed`);
    const bytes = encodeTensor(data, dtype);
    let size = this.sizes.get(shardPath) ?? 0;
    const chunks = this.pending.get(shardPath) ?? [];
    const align = Math.max(DTYPE_BYTES[dtype], 4);
    const pad = (align - (size % align)) % align;
    if (pad) {
      chunks.push(new Uint8Array(pad));
      size += pad;
    }
    const offset = size;
    chunks.push(bytes.slice()); // copy: callers may reuse their buffers
    this.pending.set(shardPath, chunks);
    this.sizes.set(shardPath, size + bytes.byteLength);
    return { shard: shardPath, offset, dtype, shape: [...shape] };
  }

  /** Current byte length of a shard (the offset the next raw append would get). */
  shardSize(shardPath: string): number {
    return this.sizes.get(shardPath) ?? 0;
  }

  /** Writes a shard out now (hash + sink) to bound memory; no more tensors may go into it. */
  async closeShard(shardPath: string): Promise<void> {
    const chunks = this.pending.get(shardPath);
    if (!chunks) return;
    const total = this.sizes.get(shardPath) ?? 0;
    const bytes = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      bytes.set(c, o);
      o += c.byteLength;
    }
    this.pending.delete(shardPath);
    await this.sink.write(shardPath, bytes);
    this.done.push({ path: shardPath, bytes: total, sha256: await sha256Hex(bytes) });
  }

  /** Closes every shard, validates the manifest against the schema and writes manifest.json. */
  async finish(body: ManifestBody): Promise<Manifest> {
    for (const path of [...this.pending.keys()]) await this.closeShard(path);
    const manifest: Manifest = {
      format: FORMAT_NAME,
      version: FORMAT_VERSION,
      ...body,
      shards: [...this.done].sort((a, b) => a.path.localeCompare(b.path)),
    };
    const parsed = ManifestSchema.safeParse(manifest);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`bundle writer produced an invalid manifest at ${issue.path.join('.')}: ${issue.message}`);
    }
    // The same consistency checks the loader runs (shapes, references, bounds): a builder with a
    // bug fails here, at build time, instead of producing a bundle that every reader rejects.
    const { errors } = checkManifest(manifest);
    if (errors.length) {
      throw new Error(`bundle writer produced an inconsistent manifest: ${errors.map((e) => e.message).join('; ')}`);
    }
    await this.sink.write(MANIFEST_FILE, new TextEncoder().encode(JSON.stringify(manifest, null, 1)));
    return manifest;
  }
}
