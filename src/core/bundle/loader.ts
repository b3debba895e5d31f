// Opens a bundle from any ShardSource and hands out its tensors. Nothing from a shard is ever used
// before that shard's size and sha256 were checked against the manifest:
//  - verify 'full' (CLI default): every shard is read and hashed at open;
//  - verify 'sizes' (the app): sizes are checked at open where the source knows them cheaply, and each
//    shard is read whole and hashed the first time any tensor of it is asked for.
// Verified shards up to `keepShardBytes` each (and `memoryBudgetBytes` together) stay in memory; the
// others are dropped after hashing and
// later tensors are read with ranged reads (HTTP Range / Cache Storage / positioned file reads).
import {
  BundleValidationError,
  checkFaces,
  checkManifest,
  checkRef,
  checkShardBytes,
  checkVoxelIndices,
  checkVoxelToVertex,
} from './checks.ts';
import { decodeRef, decodeTensorBytes, type TensorArray } from './decodeTensor.ts';
import { AbortError, BundleError, throwIfAborted } from '../base/errors.ts';
import {
  DTYPE_BYTES,
  MANIFEST_FILE,
  tensorByteLength,
  tensorElementCount,
  type Manifest,
  type Shard,
  type Subject,
  type TensorRef,
} from './manifest.ts';
import type { ShardSource } from './source.ts';
import type { ByteProgress } from '../base/progress.ts';
import { manifestJson, parseManifest, readManifestBytes } from './validate.ts';

export type { TensorArray } from './decodeTensor.ts';

/** Bytes verified so far of the shards being read, and the shard being read. */
export type LoadProgress = ByteProgress;

export interface OpenOptions {
  signal?: AbortSignal;
  onProgress?: (p: LoadProgress) => void;
  /** 'full' (default): hash every shard now. 'sizes': sizes now, each shard hashed on first use. */
  verify?: 'full' | 'sizes';
  /** Verified shards up to this size are kept in memory (default 256 MiB). */
  keepShardBytes?: number;
  /** Verified shards kept in memory together stay below this (default 1 GiB). */
  memoryBudgetBytes?: number;
}

export interface TensorOptions {
  /** float16: keep the raw Uint16Array bits instead of decoding to Float32Array. */
  raw?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: LoadProgress) => void;
}

interface ShardState {
  index: number;
  shard: Shard;
  /** Resolves once the shard is verified: its bytes if kept, null if dropped (read ranges later). */
  verified?: Promise<Uint8Array | null>;
}

export class Bundle {
  readonly manifest: Manifest;
  readonly source: ShardSource;
  /** Non-fatal findings of the manifest checks (unreferenced shards, ...). */
  readonly warnings: string[];
  private readonly shards = new Map<string, ShardState>();
  private readonly shardTable = new Map<string, Shard>();
  private readonly keepShardBytes: number;
  private readonly memoryBudgetBytes: number;
  private keptBytes = 0;

  private constructor(source: ShardSource, manifest: Manifest, warnings: string[], opts: OpenOptions) {
    this.source = source;
    this.manifest = manifest;
    this.warnings = warnings;
    this.keepShardBytes = opts.keepShardBytes ?? 256 << 20;
    this.memoryBudgetBytes = opts.memoryBudgetBytes ?? 1 << 30;
    manifest.shards.forEach((shard, index) => {
      this.shards.set(shard.path, { index, shard });
      this.shardTable.set(shard.path, shard);
    });
  }

  static async open(source: ShardSource, opts: OpenOptions = {}): Promise<Bundle> {
    const { signal, onProgress } = opts;
    throwIfAborted(signal);
    const bytes = await readManifestBytes(source, {
      signal,
      onProgress: onProgress && ((l, t) => onProgress({ loadedBytes: l, totalBytes: t, file: MANIFEST_FILE })),
    });
    const manifest = parseManifest(manifestJson(bytes));
    const { errors, warnings } = checkManifest(manifest);
    if (errors.length) throw errors.length === 1 ? errors[0] : new BundleValidationError(errors);
    const bundle = new Bundle(source, manifest, warnings, opts);
    // Sources with a cache (HTTP + Cache Storage) drop shards of older builds of this bundle; in the
    // background, since a slow or broken cache must not delay or fail the load.
    const prunable = source as ShardSource & { pruneCache?: (keep: Shard[]) => Promise<number> };
    if (typeof prunable.pruneCache === 'function') void prunable.pruneCache(manifest.shards).catch(() => {});
    if ((opts.verify ?? 'full') === 'full') await bundle.verifyAll(signal, onProgress);
    else await bundle.checkSizes(signal);
    return bundle;
  }

  /** Reads and hashes every shard not yet verified (four at a time), reporting bytes over all of them. */
  async verifyAll(signal?: AbortSignal, onProgress?: (p: LoadProgress) => void): Promise<void> {
    const states = [...this.shards.values()];
    const total = states.reduce((a, s) => a + s.shard.bytes, 0);
    const loaded = new Map<string, number>();
    let sum = 0;
    const errors: BundleError[] = [];
    let next = 0;
    const worker = async () => {
      while (next < states.length) {
        const st = states[next++];
        try {
          await this.verified(st, signal, (l) => {
            sum += l - (loaded.get(st.shard.path) ?? 0);
            loaded.set(st.shard.path, l);
            onProgress?.({ loadedBytes: Math.min(sum, total), totalBytes: total, file: st.shard.path });
          });
        } catch (e) {
          if (e instanceof AbortError || !(e instanceof BundleError)) throw e;
          errors.push(e);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, states.length) }, worker));
    onProgress?.({ loadedBytes: total, totalBytes: total, file: MANIFEST_FILE });
    if (errors.length) throw errors.length === 1 ? errors[0] : new BundleValidationError(errors);
  }

  private async checkSizes(signal?: AbortSignal): Promise<void> {
    if (!this.source.size) return;
    const errors: BundleError[] = [];
    await Promise.all(
      [...this.shards.values()].map(async ({ shard, index }) => {
        const size = await this.source.size!(shard.path, { signal, sha256: shard.sha256, expected: shard.bytes });
        if (size !== undefined && size !== shard.bytes) {
          errors.push(
            new BundleError(shard.path, `wrong size: ${size} bytes`, {
              field: 'bytes',
              expected: `${shard.bytes} bytes (manifest.json shards[${index}].bytes)`,
            }),
          );
        }
      }),
    );
    throwIfAborted(signal);
    if (errors.length) throw errors.length === 1 ? errors[0] : new BundleValidationError(errors);
  }

  /** The verification of one shard, started once and shared; a failed check stays failed. */
  private verified(
    st: ShardState,
    signal?: AbortSignal,
    onBytes?: (loaded: number) => void,
  ): Promise<Uint8Array | null> {
    if (!st.verified) {
      const p = (async () => {
        const bytes = await this.source.read(st.shard.path, {
          signal,
          sha256: st.shard.sha256,
          size: st.shard.bytes,
          onProgress: onBytes && ((l) => onBytes(l)),
        });
        const e = await checkShardBytes(st.shard, st.index, bytes);
        if (e) throw e;
        if (bytes.byteLength > this.keepShardBytes || this.keptBytes + bytes.byteLength > this.memoryBudgetBytes)
          return null;
        this.keptBytes += bytes.byteLength;
        return bytes;
      })();
      st.verified = p;
      // An aborted or failed network read may be retried later; a checksum failure may not.
      p.catch((e) => {
        if (!(e instanceof BundleError) || /HTTP|network/.test(e.message)) {
          if (st.verified === p) st.verified = undefined;
        }
      });
    }
    return st.verified;
  }

  /** Waits for a shard's verification; if another caller's abort cancelled it, starts it again. */
  private async waitVerified(st: ShardState, opts: TensorOptions): Promise<Uint8Array | null> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.verified(st, opts.signal, this.progress(st.shard.path, st.shard.bytes, opts));
      } catch (e) {
        if (!(e instanceof AbortError) || opts.signal?.aborted || attempt >= 3) throw e;
      }
    }
  }

  /** The whole, verified bytes of a shard (e.g. an ONNX model listed as a shard). */
  async file(path: string, opts: TensorOptions = {}): Promise<Uint8Array> {
    const st = this.state(path, 'shards');
    const kept = await this.waitVerified(st, opts);
    return kept
      ? kept.slice()
      : this.source.read(path, { signal: opts.signal, sha256: st.shard.sha256, size: st.shard.bytes });
  }

  private state(path: string, field: string): ShardState {
    const st = this.shards.get(path);
    if (!st)
      throw new BundleError(MANIFEST_FILE, `unknown shard "${path}"`, { field, expected: 'a path listed in shards[]' });
    return st;
  }

  private progress(file: string, total: number, opts: TensorOptions) {
    const cb = opts.onProgress;
    return cb && ((l: number) => cb({ loadedBytes: l, totalBytes: total, file }));
  }

  /** Reads `length` bytes at `offset` of a shard, after that shard passed its checksum. */
  private async bytes(path: string, offset: number, length: number, opts: TensorOptions): Promise<Uint8Array> {
    const st = this.state(path, 'shard');
    const kept = await this.waitVerified(st, opts);
    if (kept) return kept.subarray(offset, offset + length);
    return this.source.read(path, {
      offset,
      length,
      signal: opts.signal,
      sha256: st.shard.sha256,
      size: st.shard.bytes,
      onProgress: opts.onProgress && ((l, t) => opts.onProgress!({ loadedBytes: l, totalBytes: t, file: path })),
    });
  }

  /** A tensor's values: float16 decoded to Float32Array (or raw bits), others in their own type. */
  async tensor(ref: TensorRef, opts: TensorOptions = {}): Promise<TensorArray> {
    const e = checkRef(this.shardTable, ref, 'tensor');
    if (e) throw e;
    const n = tensorByteLength(ref);
    const bytes = await this.bytes(ref.shard, ref.offset, n, opts);
    return decodeTensorBytes(bytes, ref.dtype, tensorElementCount(ref), opts.raw);
  }

  /** float32 values of a tensor whatever its stored float type. */
  async floats(ref: TensorRef, opts: Omit<TensorOptions, 'raw'> = {}): Promise<Float32Array> {
    const t = await this.tensor(ref, opts);
    return t instanceof Float32Array ? t : Float32Array.from(t);
  }

  subject(id: number): Subject {
    const s = this.manifest.subjects.find((x) => x.id === id);
    if (!s) {
      throw new BundleError(MANIFEST_FILE, `no subject ${id}`, {
        field: 'subjects',
        expected: `one of ${this.manifest.subjects.map((x) => x.id).join(', ')}`,
      });
    }
    return s;
  }

  /** The betas of trial `trialIndex` (manifest order) as float32 [voxelCount]. */
  async trialBetas(trialIndex: number, opts: Omit<TensorOptions, 'raw'> = {}): Promise<Float32Array> {
    const t = this.manifest.trials[trialIndex];
    if (!t) {
      throw new BundleError(MANIFEST_FILE, `no trial ${trialIndex}`, {
        field: 'trials',
        expected: `an index below ${this.manifest.trials.length}`,
      });
    }
    const s = this.subject(t.subject);
    const n = s.voxelCount * DTYPE_BYTES[s.betaDtype];
    const shard = this.shardTable.get(t.betas.shard);
    if (!shard || t.betas.offset + n > shard.bytes) {
      throw new BundleError(MANIFEST_FILE, 'betas out of the bounds of their shard', {
        field: `trials[${trialIndex}].betas`,
      });
    }
    const bytes = await this.bytes(t.betas.shard, t.betas.offset, n, opts);
    return decodeTensorBytes(bytes, s.betaDtype, s.voxelCount) as Float32Array;
  }

  /** Betas of several trials stacked into one float32 [n, voxelCount] array (all of one subject). */
  async trialsBetas(trialIndices: number[], opts: Omit<TensorOptions, 'raw'> = {}): Promise<Float32Array> {
    if (!trialIndices.length) return new Float32Array(0);
    const subj = this.manifest.trials[trialIndices[0]]?.subject;
    const V = subj === undefined ? 0 : this.subject(subj).voxelCount;
    const out = new Float32Array(trialIndices.length * V);
    for (const [k, i] of trialIndices.entries()) {
      if (this.manifest.trials[i]?.subject !== subj) {
        throw new BundleError(MANIFEST_FILE, `trial ${i} is not of subject ${subj}`, {
          field: `trials[${i}].subject`,
          expected: `${subj}`,
        });
      }
      out.set(await this.trialBetas(i, opts), k * V);
    }
    return out;
  }

  /** An ROI's voxel indices, checked to be < voxelCount. */
  async roiVoxels(subjectId: number, roiName: string, opts: TensorOptions = {}): Promise<Int32Array> {
    const s = this.subject(subjectId);
    const si = this.manifest.subjects.indexOf(s);
    const ri = s.rois.findIndex((r) => r.name === roiName);
    if (ri < 0) {
      throw new BundleError(MANIFEST_FILE, `no ROI "${roiName}"`, {
        field: `subjects[${si}].rois`,
        expected: `one of ${s.rois.map((r) => r.name).join(', ')}`,
      });
    }
    const v = await this.tensor(s.rois[ri].voxels, opts);
    const e = checkVoxelIndices(v, s.voxelCount, `subjects[${si}].rois[${ri}].voxels`);
    if (e) throw e;
    return v instanceof Int32Array ? v : Int32Array.from(v);
  }

  /** int32 [voxelCount, 2] (hemi, vertex) per voxel, checked against the surfaces; null if absent. */
  async voxelToVertex(subjectId: number, opts: TensorOptions = {}): Promise<Int32Array | null> {
    const s = this.subject(subjectId);
    if (!s.voxelToVertex) return null;
    const si = this.manifest.subjects.indexOf(s);
    const v = (await this.tensor(s.voxelToVertex, opts)) as Int32Array;
    const counts = [0, 1].map((h) => s.surfaces.find((x) => x.hemi === (h ? 'rh' : 'lh'))?.vertexCount);
    const e = checkVoxelToVertex(v, counts, `subjects[${si}].voxelToVertex`);
    if (e) throw e;
    return v;
  }

  /** A surface's faces, checked to index its vertices. */
  async surfaceFaces(subjectId: number, hemi: 'lh' | 'rh', opts: TensorOptions = {}): Promise<Uint32Array> {
    const s = this.subject(subjectId);
    const si = this.manifest.subjects.indexOf(s);
    const i = s.surfaces.findIndex((x) => x.hemi === hemi);
    if (i < 0)
      throw new BundleError(MANIFEST_FILE, `no ${hemi} surface`, {
        field: `subjects[${si}].surfaces`,
        expected: `a ${hemi} surface`,
      });
    const f = await this.tensor(s.surfaces[i].faces, opts);
    const e = checkFaces(f, s.surfaces[i].vertexCount, `subjects[${si}].surfaces[${i}].faces`);
    if (e) throw e;
    return f instanceof Uint32Array ? f : Uint32Array.from(f);
  }

  /** Drops a verified shard's bytes from memory (it will be re-read, not re-hashed, when needed). */
  release(path: string): void {
    const st = this.state(path, 'shards');
    if (!st.verified) return;
    st.verified = st.verified.then((kept) => {
      if (kept) this.keptBytes -= kept.byteLength;
      return null;
    });
  }
}

export { decodeRef };
