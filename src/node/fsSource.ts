// The Node ShardSource: a bundle folder on disk. Reads ranges with positioned reads and reports
// progress per chunk, so verifying a large bundle shows a moving bar and can be interrupted.
import { constants } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
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

  /** The folder `ref` names relative to this one (a composite model pack's parts, e.g. "../clip-l14/"). */
  sibling(ref: string): FsShardSource {
    return new FsShardSource(resolve(this.dir, ref));
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
      const st = await stat(this.file(path));
      return st.isFile() ? st.size : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Refuses anything but a regular file inside the folder: opening a FIFO blocks until a writer
   * comes (`mirage validate` hung forever), a device never ends, and a symlink may point outside the
   * bundle (its bytes would then be hashed, decoded or copied into a new bundle).
   */
  private async checkRegular(path: string, full: string): Promise<void> {
    let st;
    try {
      st = await stat(full);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new BundleError(path, code === 'ENOENT' ? `file not found in ${this.dir}` : `cannot open (${code})`, { cause: e });
    }
    if (!st.isFile()) {
      const kind = st.isFIFO() ? 'a FIFO (named pipe)' : st.isDirectory() ? 'a directory' : st.isSocket() ? 'a socket' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a regular file';
      throw new BundleError(path, `is ${kind}; refused`, { expected: 'a regular file' });
    }
    const [real, root] = await Promise.all([realpath(full), realpath(this.dir)]);
    if (real !== root && !real.startsWith(root + sep)) {
      throw new BundleError(path, `is a link to ${real}, outside the bundle folder; refused`, { expected: 'a regular file inside the bundle folder' });
    }
  }

  async read(path: string, opts: ReadOptions = {}): Promise<Uint8Array> {
    if (opts.signal?.aborted) throw new AbortError();
    const full = this.file(path);
    await this.checkRegular(path, full);
    let fh;
    try {
      // O_NONBLOCK: should the file be swapped for a FIFO after the check, open still returns.
      fh = await open(full, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new BundleError(path, code === 'ENOENT' ? `file not found in ${this.dir}` : `cannot open (${code})`, {
        cause: e,
      });
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new BundleError(path, 'is not a regular file; refused', { expected: 'a regular file' });
      const size = st.size;
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
