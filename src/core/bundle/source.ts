// Where a bundle's bytes come from. The loader only ever sees this interface; the page hands in an
// HttpShardSource (URL) or FileListShardSource (picked folder / dropped files), the CLI an
// FsShardSource (src/node/fsSource.ts). Paths are the manifest's relative, forward-slash paths.
import { AbortError, BundleError } from '../base/errors.ts';

export interface ReadOptions {
  /** Byte offset of a partial read (default 0). */
  offset?: number;
  /** Byte count of a partial read (default: to the end of the file). */
  length?: number;
  signal?: AbortSignal;
  /** Called as bytes arrive: monotonic `loadedBytes`, ending with loadedBytes === totalBytes. */
  onProgress?: (loadedBytes: number, totalBytes: number) => void;
  /**
   * Optional: the whole file's sha256 and size from the manifest. Sources that cache (HTTP + Cache
   * Storage) key their cache by it, and only store a file whose bytes hash to it.
   */
  sha256?: string;
  size?: number;
}

export interface ShardSource {
  /** Human-readable origin, e.g. the URL or folder, for messages. */
  readonly label: string;
  read(path: string, opts?: ReadOptions): Promise<Uint8Array>;
  /**
   * Optional: the file's byte size without reading it (HEAD, stat, Blob.size, or a cached copy found
   * by `sha256`); undefined if unknown. `expected` is the manifest's size: a source that remembers
   * sizes (HTTP) remembers only one that matches it, so a since-fixed file is never reported wrong.
   */
  size?(path: string, opts?: { signal?: AbortSignal; sha256?: string; expected?: number }): Promise<number | undefined>;
}

/** Checks a partial read's range against the file size; returns [start, end). */
export function resolveRange(path: string, fileSize: number, opts: ReadOptions = {}): [number, number] {
  const start = opts.offset ?? 0;
  const end = opts.length === undefined ? fileSize : start + opts.length;
  if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(end) || end < start) {
    throw new RangeError(`${path}: bad byte range offset=${opts.offset} length=${opts.length}`);
  }
  if (end > fileSize) {
    throw new BundleError(path, `read of bytes [${start}, ${end}) runs past the end of the file`, {
      expected: `a file of at least ${end} bytes (it has ${fileSize})`,
    });
  }
  return [start, end];
}

/**
 * Drains a byte stream into one Uint8Array, reporting progress after every chunk. `total` is the
 * expected size when known (preallocates); with `exact` a different byte count is an error, without
 * it `total` is only a hint (e.g. a Content-Length that may count compressed bytes). Progress always
 * ends with loaded === total.
 */
export async function readStream(
  stream: ReadableStream<Uint8Array>,
  path: string,
  opts: { total?: number; exact?: boolean; signal?: AbortSignal; onProgress?: (loaded: number, total: number) => void },
): Promise<Uint8Array> {
  const reader = stream.getReader();
  const known = opts.total !== undefined && opts.total >= 0 ? opts.total : undefined;
  let buf = new Uint8Array(known ?? 1 << 16);
  let loaded = 0;
  const onAbort = () => void reader.cancel().catch(() => {});
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (opts.signal?.aborted) throw new AbortError();
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        if (opts.signal?.aborted) throw new AbortError();
        throw e;
      }
      if (opts.signal?.aborted) throw new AbortError();
      if (chunk.done) break;
      const v = chunk.value;
      if (loaded + v.byteLength > buf.byteLength) {
        const grown = new Uint8Array(Math.max(buf.byteLength * 2, loaded + v.byteLength));
        grown.set(buf.subarray(0, loaded));
        buf = grown;
      }
      buf.set(v, loaded);
      loaded += v.byteLength;
      // Never report more than the announced total mid-stream (a server may lie); the end corrects it.
      if (opts.onProgress) opts.onProgress(loaded, known !== undefined ? Math.max(known, loaded) : loaded);
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    reader.releaseLock?.();
  }
  if (known !== undefined && (opts.exact ?? true) && loaded !== known) {
    throw new BundleError(path, `received ${loaded} bytes`, { expected: `${known} bytes` });
  }
  opts.onProgress?.(loaded, loaded);
  return loaded === buf.byteLength ? buf : buf.slice(0, loaded);
}
