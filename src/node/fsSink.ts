// A ShardSink that writes a bundle into a temporary sibling folder and renames it into place on
// commit(), so an interrupted or failed build never leaves a half-written bundle at `out`.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { ShardSink } from '../core/bundle/writer.ts';

export class AtomicFolderSink implements ShardSink {
  readonly out: string;
  readonly tmp: string;
  constructor(out: string) {
    this.out = resolve(out);
    this.tmp = `${this.out}.tmp-${process.pid}-${Date.now()}`;
  }
  async write(path: string, bytes: Uint8Array): Promise<void> {
    const file = join(this.tmp, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, bytes);
  }
  /** Replaces `out` with the finished folder. */
  async commit(): Promise<void> {
    await mkdir(dirname(this.out), { recursive: true });
    const old = `${this.out}.old-${process.pid}`;
    let moved = false;
    try {
      await rename(this.out, old);
      moved = true;
    } catch {
      /* no previous bundle */
    }
    await rename(this.tmp, this.out);
    if (moved) await rm(old, { recursive: true, force: true });
  }
  async abort(): Promise<void> {
    await rm(this.tmp, { recursive: true, force: true });
  }
}

/** Runs `build` against an atomic sink: commit on success, remove the temporary folder on failure. */
export async function writeAtomically<T>(out: string, build: (sink: AtomicFolderSink) => Promise<T>): Promise<T> {
  const sink = new AtomicFolderSink(out);
  try {
    const result = await build(sink);
    await sink.commit();
    return result;
  } catch (e) {
    await sink.abort();
    throw e;
  }
}
