// A bundle the user picked as a folder (<input webkitdirectory>) or dropped as files. Paths are
// matched relative to the folder that holds manifest.json, so picking the bundle folder itself or
// its parent both work.
import { MANIFEST_FILE } from './manifest.ts';
import { BundleError } from '../base/errors.ts';
import { readStream, resolveRange, type ReadOptions, type ShardSource } from './source.ts';

type FileLike = Blob & { name?: string; webkitRelativePath?: string };

export class FileListShardSource implements ShardSource {
  readonly label: string;
  private readonly files = new Map<string, Blob>();

  /** `files`: File objects (their webkitRelativePath or name is the path) or a path -> Blob map. */
  constructor(files: File[] | FileLike[] | Map<string, Blob>) {
    const entries: [string, Blob][] =
      files instanceof Map
        ? [...files.entries()]
        : Array.from(files as FileLike[], (f) => [f.webkitRelativePath || f.name || '', f] as [string, Blob]);
    const norm = entries.map(([p, b]) => [p.replace(/\\/g, '/').replace(/^\.?\//, ''), b] as [string, Blob]);
    // The root is the folder of the shallowest manifest.json.
    const manifests = norm
      .map(([p]) => p)
      .filter((p) => p === MANIFEST_FILE || p.endsWith(`/${MANIFEST_FILE}`))
      .sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b));
    const root = manifests.length ? manifests[0].slice(0, manifests[0].length - MANIFEST_FILE.length) : '';
    for (const [p, b] of norm) {
      if (p.startsWith(root)) this.files.set(p.slice(root.length), b);
    }
    this.label = root ? `picked folder ${root.replace(/\/$/, '')}` : 'picked files';
  }

  private blob(path: string): Blob {
    const b = this.files.get(path);
    if (!b) {
      throw new BundleError(path, 'not among the picked files', {
        expected: `the file next to ${MANIFEST_FILE} (pick the whole bundle folder)`,
      });
    }
    return b;
  }

  async size(path: string): Promise<number | undefined> {
    return this.files.get(path)?.size;
  }

  async read(path: string, opts: ReadOptions = {}): Promise<Uint8Array> {
    const blob = this.blob(path);
    const [start, end] = resolveRange(path, blob.size, opts);
    const part = start === 0 && end === blob.size ? blob : blob.slice(start, end);
    return readStream(part.stream() as ReadableStream<Uint8Array>, path, {
      total: end - start,
      signal: opts.signal,
      onProgress: opts.onProgress,
    });
  }
}
