// The Node ShardSource: a bundle folder on disk. Reads ranges with positioned reads and reports
// progress per chunk, so verifying a large bundle shows a moving bar and can be interrupted.
import { open, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { AbortError, BundleError } from '../core/base/errors.ts';
import { HttpShardSource } from '../core/bundle/httpSource.ts';
import { resolveRange, type ReadOptions, type ShardSource } from '../core/bundle/source.ts';

const CHUNK = 8 << 20;

export class FsShardSource implements ShardSource {
  readonly dir: string;
  readonly label: string;
  constructor(dir: string) {
    this.dir = resolve(dir);
    this.label = this.dir;
  }

  private file(path: string): string {
    const full = resolve(join(this.dir, path));
    if (full !== this.dir && !full.startsWith(this.dir + sep)) {
      throw new BundleError(path, 'path leaves the bundle folder', { expected: 'a relative path inside the bundle' });
    }
    return full;
  }

  async size(path: string): Promise<number | undefined> {
    try {
      return (await stat(this.file(path))).size;
    } catch {
      return undefined;
    }
  }

  async read(path: string, opts: ReadOptions = {}): Promise<Uint8Array> {
    if (opts.signal?.aborted) throw new AbortError();
    const full = this.file(path);
    let fh;
    try {
      fh = await open(full, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new BundleError(path, code === 'ENOENT' ? `file not found in ${this.dir}` : `cannot open (${code})`, {
        cause: e,
      });
    }
    try {
      const size = (await fh.stat()).size;
      const [start, end] = resolveRange(path, size, opts);
      const out = new Uint8Array(end - start);
      let done = 0;
      while (done < out.byteLength) {
        if (opts.signal?.aborted) throw new AbortError();
        const n = Math.min(CHUNK, out.byteLength - done);
        const { bytesRead } = await fh.read(out, done, n, start + done);
        if (bytesRead === 0) throw new BundleError(path, 'file shrank while reading');
        done += bytesRead;
        opts.onProgress?.(done, out.byteLength);
      }
      if (out.byteLength === 0) opts.onProgress?.(0, 0);
      return out;
    } finally {
      await fh.close();
    }
  }
}

/** A bundle folder, its manifest.json, or an http(s) URL of either, as a ShardSource. */
export function bundleSource(location: string): ShardSource {
  if (/^https?:\/\//i.test(location)) return new HttpShardSource(location, { cache: false });
  return new FsShardSource(basename(location) === 'manifest.json' ? dirname(location) : location);
}
