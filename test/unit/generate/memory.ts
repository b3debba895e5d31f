// In-memory ShardSink + ShardSource for tests: a pack is written and read back without a disk.
import type { ShardSink } from '../../../src/core/bundle/writer.ts';
import type { ReadOptions, ShardSource } from '../../../src/core/bundle/source.ts';

export class MemoryStore implements ShardSink, ShardSource {
  readonly label = 'memory';
  readonly files = new Map<string, Uint8Array>();
  async write(path: string, bytes: Uint8Array): Promise<void> {
    this.files.set(path, bytes.slice());
  }
  async read(path: string, opts: ReadOptions = {}): Promise<Uint8Array> {
    const b = this.files.get(path);
    if (!b) throw new Error(`memory: no file ${path}`);
    const start = opts.offset ?? 0;
    const end = opts.length === undefined ? b.byteLength : start + opts.length;
    opts.onProgress?.(end - start, end - start);
    return b.slice(start, end);
  }
}
