// Resumable downloads of large pack files into Cache Storage. A model pack's weight files run to
// 128 MiB each and a real pack to gigabytes: a download cut at 90 % must not start over, and bytes
// must never be trusted without a check. While a file streams in, every completed chunk of
// `chunkBytes` is stored on its own entry (`<whole key>&mirage-part=<i>`, with the chunk's sha256
// in a header). A later load takes the chunks already stored — each re-hashed against its header;
// the first bad or missing one ends the run and it and every chunk after it are dropped — and asks
// the server only for the rest with `Range: bytes=<k>-`. At the end the whole file must hash to the
// manifest's sha256; the chunks are then replaced by the one whole entry the cache reader looks up
// (HttpShardSource.cached). If the whole does not match although every chunk matched its own
// header (a stale chunk stored with a consistent header), the chunks are dropped and the file is
// downloaded once more from byte 0; a second mismatch is the server's file, reported as such.
import { AbortError, BundleError } from '../base/errors.ts';
import { sha256Hex } from './sha256.ts';

/** Default chunk: small enough that an interruption loses little, large enough that entries stay few. */
export const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;
const PART = '&mirage-part=';
const CHUNK_SHA = 'x-mirage-chunk-sha256';

/** The part of the Cache API the download uses (one named cache). */
export interface ChunkCache {
  match(key: string): Promise<Response | undefined>;
  put(key: string, res: Response): Promise<void>;
  delete(key: string): Promise<boolean>;
}

export interface ResumableDownload {
  /** Where the file is (messages). */
  path: string;
  /** The whole file's cache key (URL + sha256): chunks are stored under it with a part suffix. */
  key: string;
  size: number;
  sha256: string;
  chunkBytes: number;
  cache: ChunkCache;
  /** Starts a GET; `start` > 0 asks for `Range: bytes=<start>-`. */
  request(start: number, signal: AbortSignal): Promise<Response>;
  signal: AbortSignal;
  /** Bytes of this file present so far (resumed ones included), and its size. */
  onProgress?: (loaded: number, total: number) => void;
}

export function chunkKey(key: string, index: number): string {
  return `${key}${PART}${index}`;
}

function chunkCount(size: number, chunkBytes: number): number {
  return Math.ceil(size / chunkBytes);
}

/** Drops chunk entries `from`.. of a file (missing ones are no error). */
async function dropChunks(d: ResumableDownload, from: number): Promise<void> {
  for (let i = from; i < chunkCount(d.size, d.chunkBytes); i++) await d.cache.delete(chunkKey(d.key, i)).catch(() => false);
}

/**
 * Copies the stored chunks, from the first on, into `buf` as long as each has its expected length and
 * hashes to the sha256 stored with it; returns the byte count restored. The first chunk that fails
 * (corrupt, truncated, missing header) is dropped with everything after it.
 */
export async function restoreChunks(d: ResumableDownload, buf: Uint8Array): Promise<number> {
  const n = chunkCount(d.size, d.chunkBytes);
  let i = 0;
  for (; i < n; i++) {
    const res = await d.cache.match(chunkKey(d.key, i)).catch(() => undefined);
    if (!res) break;
    const bytes = new Uint8Array(await res.arrayBuffer());
    const want = Math.min(d.chunkBytes, d.size - i * d.chunkBytes);
    if (bytes.byteLength !== want || res.headers.get(CHUNK_SHA) !== (await sha256Hex(bytes))) break;
    buf.set(bytes, i * d.chunkBytes);
  }
  await dropChunks(d, i);
  return Math.min(i * d.chunkBytes, d.size);
}

async function storeChunk(d: ResumableDownload, index: number, bytes: Uint8Array): Promise<void> {
  try {
    const headers = { 'content-type': 'application/octet-stream', 'content-length': String(bytes.byteLength), [CHUNK_SHA]: await sha256Hex(bytes) };
    await d.cache.put(chunkKey(d.key, index), new Response(bytes.slice() as Uint8Array<ArrayBuffer>, { headers }));
  } catch {
    /* quota or private mode: this chunk is simply fetched again next time */
  }
}

/** Streams the file from `start` into `buf`, storing each chunk as it completes. */
async function fetchFrom(d: ResumableDownload, buf: Uint8Array, start: number): Promise<void> {
  let res: Response;
  try {
    res = await d.request(start, d.signal);
  } catch (e) {
    if (d.signal.aborted) throw new AbortError();
    throw e;
  }
  let pos = start;
  if (start > 0 && res.status !== 206) {
    // The server ignored the Range: its answer starts at byte 0, so the file is read from there.
    if (res.status !== 200) throw new BundleError(d.path, `HTTP ${res.status} to a resumed download`, { expected: 'HTTP 206 (or 200)' });
    pos = 0;
  } else if (start > 0) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range')?.trim() ?? '');
    if (!m || Number(m[1]) !== start) {
      await res.body?.cancel().catch(() => {});
      throw new BundleError(d.path, `server answered "Range: bytes=${start}-" with Content-Range "${res.headers.get('content-range')}"`, { expected: `bytes ${start}-${d.size - 1}/${d.size}` });
    }
  }
  d.onProgress?.(pos, d.size);
  if (!res.body) throw new BundleError(d.path, 'the response has no body', { expected: `${d.size - pos} bytes` });
  const reader = res.body.getReader();
  const onAbort = () => void reader.cancel().catch(() => {});
  d.signal.addEventListener('abort', onAbort, { once: true });
  let stored = Math.floor(pos / d.chunkBytes); // next chunk index to store
  try {
    for (;;) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (e) {
        if (d.signal.aborted) throw new AbortError();
        throw new BundleError(d.path, `download interrupted at byte ${pos} of ${d.size}: ${(e as Error).message}`, { cause: e, expected: 'the rest of the file (the next load resumes from the last stored chunk)' });
      }
      if (d.signal.aborted) throw new AbortError();
      if (r.done) break;
      if (pos + r.value.byteLength > d.size) throw new BundleError(d.path, `server sent more than ${d.size} bytes`, { field: 'files[].bytes', expected: `${d.size} bytes` });
      buf.set(r.value, pos);
      pos += r.value.byteLength;
      while (stored < chunkCount(d.size, d.chunkBytes) && pos >= Math.min((stored + 1) * d.chunkBytes, d.size)) {
        const s = stored * d.chunkBytes;
        await storeChunk(d, stored, buf.subarray(s, Math.min(s + d.chunkBytes, d.size)));
        stored++;
      }
      d.onProgress?.(pos, d.size);
    }
  } finally {
    d.signal.removeEventListener('abort', onAbort);
    reader.releaseLock?.();
  }
  if (pos !== d.size) throw new BundleError(d.path, `received ${pos} bytes`, { field: 'files[].bytes', expected: `${d.size} bytes` });
}

/**
 * Downloads a file, resuming from the chunks already stored; returns its bytes once they hash to
 * `sha256`. The caller stores the whole, then drops the chunks (`forgetChunks`).
 */
export async function downloadResumable(d: ResumableDownload): Promise<Uint8Array> {
  const buf = new Uint8Array(d.size);
  for (let attempt = 0; ; attempt++) {
    const have = attempt === 0 ? await restoreChunks(d, buf) : 0;
    if (have < d.size) await fetchFrom(d, buf, have);
    else d.onProgress?.(d.size, d.size);
    if ((await sha256Hex(buf)) === d.sha256) return buf;
    await dropChunks(d, 0);
    if (attempt > 0 || have === 0) {
      throw new BundleError(d.path, 'sha256 of the downloaded file differs from the manifest', { field: 'files[].sha256', expected: d.sha256 });
    }
  }
}

/** Deletes a file's chunk entries (after its whole entry was stored). */
export function forgetChunks(d: Pick<ResumableDownload, 'key' | 'size' | 'chunkBytes' | 'cache'>): Promise<void> {
  return dropChunks(d as ResumableDownload, 0);
}
