// A bundle (or model pack) held in memory: the writer's ShardSink and the loader's ShardSource over
// one Map. Tests, benchmarks and anything that builds a bundle and reads it back without a disk use
// this one class; partial reads go through resolveRange, so a bad range fails as it would on a file.
import { BundleError } from '../base/errors.ts';
import { resolveRange, type ReadOptions, type ShardSource } from './source.ts';
import type { ShardSink } from './writer.ts';

export class MemoryStore implements ShardSink, ShardSource {
  readonly files = new Map<string, Uint8Array>();
  constructor(readonly label = 'memory') {}

  /** Stores a copy: the writer may reuse its buffer after the call. `new Uint8Array(bytes)` copies
   *  for every Uint8Array, a Node Buffer included (Buffer#slice would return a view of the same memory). */
  async write(path: string, bytes: Uint8Array): Promise<void> {
    this.files.set(path, new Uint8Array(bytes));
  }

  async read(path: string, opts: ReadOptions = {}): Promise<Uint8Array> {
    const b = this.files.get(path);
    if (!b) throw new BundleError(path, `no such file in ${this.label}`, { expected: 'a file written to this store' });
    const [start, end] = resolveRange(path, b.byteLength, opts);
    opts.onProgress?.(end - start, end - start);
    return b.slice(start, end);
  }

  async size(path: string): Promise<number | undefined> {
    return this.files.get(path)?.byteLength;
  }
}
