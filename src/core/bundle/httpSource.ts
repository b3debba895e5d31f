// A bundle served over HTTP(S) (the demo from the app's own origin, or ?bundle=URL).
// - Streams every response through the body reader so progress is reported in bytes.
// - Partial reads send `Range: bytes=a-b`; a 206 answer is used as is, a 200 (server without range
//   support) is read whole and sliced.
// - With Cache Storage (browsers: `globalThis.caches`), whole shards are stored in the cache
//   "mirage-bundles-v1" keyed by URL + sha256, and only after their bytes hashed to that sha256; a
//   second visit, or a partial read of a cached shard, never touches the network. A changed shard
//   has a new sha256, so a stale entry is simply never asked for again.
// - Each byte range is fetched once: concurrent reads of the same file or range share one request
//   (SharedFetches), which is cancelled only when every reader waiting for it has given up; and a
//   whole shard with a sha256 is downloaded under a Web Lock named by its cache key, so the page's
//   workers (decode, cortex, generate, evaluate: each has its own source) queue behind the one
//   downloading it and then find it in Cache Storage instead of fetching it again.
import { AbortError, BundleError } from '../base/errors.ts';
import { MANIFEST_FILE } from './manifest.ts';
import { DEFAULT_CHUNK_BYTES, downloadResumable, forgetChunks, type ResumableDownload } from './packCache.ts';
import { sha256Hex } from './sha256.ts';
import { readStream, resolveRange, type ReadOptions, type ShardSource } from './source.ts';

export const CACHE_NAME = 'mirage-bundles-v1';
/** Suffix of a cache key whose entry only notes a shard's size (an empty body, Content-Length). */
const SIZE_NOTE = '&mirage-size';

export interface HttpSourceOptions {
  /** Use Cache Storage when available (default true). */
  cache?: boolean;
  /** Injected for tests or other environments; defaults to globalThis.caches. */
  cacheStorage?: CacheStorage;
  /** Injected fetch; defaults to globalThis.fetch. */
  fetch?: typeof fetch;
  /**
   * Cross-context lock for whole-shard downloads (Web Locks: navigator.locks in pages and workers);
   * injected for tests, off when the environment has none (Node).
   */
  locks?: ShardLocks;
  /**
   * Whole files with a sha256 and a size are downloaded resumably (packCache.ts): completed chunks
   * of `chunkBytes` are kept in Cache Storage as they arrive, and a later load asks only for the
   * rest with a Range request. For model packs (files up to 128 MiB); off for bundles.
   */
  resumable?: { chunkBytes?: number };
}

/** The part of the Web Locks API (LockManager) the source uses. */
export interface ShardLocks {
  request<T>(name: string, options: { signal?: AbortSignal }, callback: () => Promise<T>): Promise<T>;
}

type Progress = (loaded: number, total: number) => void;

interface SharedFetch {
  promise: Promise<Uint8Array>;
  controller: AbortController;
  /** Readers still waiting for it; at 0 the request is cancelled. */
  waiting: number;
  /** Readers handed the bytes so far (the first gets them, later ones a copy). */
  handedOut: number;
  listeners: Set<Progress>;
}

/**
 * One request per key (a path, or a path and byte range) for all concurrent readers of one source.
 * A reader that aborts stops waiting at once; the request itself is cancelled only when no reader
 * is left, so a superseded request never cancels bytes another reader still needs.
 */
export class SharedFetches {
  private readonly inFlight = new Map<string, SharedFetch>();

  /** Number of requests currently running (for tests and diagnostics). */
  get size(): number {
    return this.inFlight.size;
  }

  run(key: string, signal: AbortSignal | undefined, onProgress: Progress | undefined, start: (signal: AbortSignal, onProgress: Progress) => Promise<Uint8Array>): Promise<Uint8Array> {
    if (signal?.aborted) return Promise.reject(new AbortError());
    let entry = this.inFlight.get(key);
    if (!entry) {
      const controller = new AbortController();
      const listeners = new Set<Progress>();
      const fresh: SharedFetch = {
        controller,
        listeners,
        waiting: 0,
        handedOut: 0,
        promise: start(controller.signal, (l, t) => listeners.forEach((f) => f(l, t))).finally(() => {
          if (this.inFlight.get(key) === fresh) this.inFlight.delete(key);
        }),
      };
      fresh.promise.catch(() => {}); // each reader gets the outcome below; none left means none to tell
      this.inFlight.set(key, fresh);
      entry = fresh;
    }
    const e = entry;
    e.waiting++;
    if (onProgress) e.listeners.add(onProgress);
    return new Promise<Uint8Array>((resolve, reject) => {
      let settled = false;
      const leave = () => {
        settled = true;
        e.waiting--;
        if (onProgress) e.listeners.delete(onProgress);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        if (settled) return;
        leave();
        reject(new AbortError());
        if (e.waiting === 0) {
          if (this.inFlight.get(key) === e) this.inFlight.delete(key);
          e.controller.abort();
        }
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      e.promise.then(
        (bytes) => {
          if (settled) return;
          leave();
          // Readers may transfer or view their bytes: only the first gets the shared buffer.
          resolve(e.handedOut++ === 0 ? bytes : bytes.slice());
        },
        (err: unknown) => {
          if (settled) return;
          leave();
          reject(err);
        },
      );
    });
  }
}

/**
 * Suffix of the cache keys of a resumable (model pack) source. A pack may sit inside a bundle's
 * folder (the demo's `modelpack/`): the bundle's pruneCache, which drops entries under its URL that
 * its manifest no longer lists, must not take the pack's files with it.
 */
export const PACK_KEY_TAG = '&mirage-pack';

/** The cache key of a whole shard: its URL plus the sha256 the manifest promises. */
export function cacheKey(url: string, sha256: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}mirage-sha256=${sha256}`;
}

export class HttpShardSource implements ShardSource {
  readonly label: string;
  readonly baseUrl: string;
  private readonly useCache: boolean;
  private readonly cacheStorage?: CacheStorage;
  private readonly fetchFn: typeof fetch;
  private readonly locks?: ShardLocks;
  private readonly options: HttpSourceOptions;
  /** Requests in flight, shared by concurrent readers of the same file or range. */
  readonly shared = new SharedFetches();

  constructor(baseUrl: string, opts: HttpSourceOptions = {}) {
    // Relative URLs resolve against the page; the base always ends in "/" so paths append to it.
    const here = (globalThis as { location?: { href: string } }).location?.href;
    let base = here ? new URL(baseUrl, here).href : new URL(baseUrl).href;
    if (base.endsWith(`/${MANIFEST_FILE}`)) base = base.slice(0, -MANIFEST_FILE.length);
    if (!base.endsWith('/')) base += '/';
    this.baseUrl = base;
    this.label = base;
    this.options = opts;
    this.cacheStorage = opts.cacheStorage ?? (globalThis as { caches?: CacheStorage }).caches;
    this.useCache = (opts.cache ?? true) && this.cacheStorage !== undefined;
    this.fetchFn = opts.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
    this.locks = opts.locks ?? (this.useCache ? (globalThis as { navigator?: { locks?: ShardLocks } }).navigator?.locks : undefined);
  }

  /** A source for another folder, `ref` resolved against this one (e.g. "../clip/"), with the same options. */
  sibling(ref: string): HttpShardSource {
    return new HttpShardSource(new URL(ref, this.baseUrl).href, this.options);
  }

  /** This source's cache key of a file (pack sources tag theirs: PACK_KEY_TAG). */
  private key(path: string, sha256: string): string {
    return `${cacheKey(this.url(path), sha256)}${this.options.resumable ? PACK_KEY_TAG : ''}`;
  }

  url(path: string): string {
    return new URL(path.split('/').map(encodeURIComponent).join('/'), this.baseUrl).href;
  }

  private async get(path: string, init: RequestInit): Promise<Response> {
    let res: Response;
    try {
      res = await this.fetchFn(this.url(path), init);
    } catch (e) {
      if (init.signal?.aborted) throw new AbortError();
      throw new BundleError(path, `network error fetching ${this.url(path)}: ${(e as Error).message}`, { cause: e });
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      throw new BundleError(path, `HTTP ${res.status} ${res.statusText} from ${this.url(path)}`, {
        expected: res.status === 404 ? 'the file to exist on the server' : 'HTTP 200 or 206',
      });
    }
    return res;
  }

  private async cached(path: string, sha256: string): Promise<Uint8Array | undefined> {
    if (!this.useCache) return undefined;
    try {
      const cache = await this.cacheStorage!.open(CACHE_NAME);
      const hit = await cache.match(this.key(path, sha256));
      return hit ? new Uint8Array(await hit.arrayBuffer()) : undefined;
    } catch {
      return undefined; // a broken or full cache must never stop a load
    }
  }

  private async store(path: string, sha256: string, bytes: Uint8Array, verified = false): Promise<void> {
    if (!this.useCache) return;
    try {
      if (!verified && (await sha256Hex(bytes)) !== sha256) return; // never cache bytes that are not the manifest's
      const cache = await this.cacheStorage!.open(CACHE_NAME);
      await cache.put(
        this.key(path, sha256),
        new Response(bytes as Uint8Array<ArrayBuffer>, {
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.byteLength) },
        }),
      );
    } catch {
      /* quota exceeded or private mode: loading still works, just not cached */
    }
  }

  /**
   * Deletes this bundle's cached shards that the current manifest no longer lists (older builds at
   * the same URL), so Cache Storage does not grow with every rebuild. Returns how many were removed.
   */
  async pruneCache(keep: { path: string; sha256: string }[]): Promise<number> {
    if (!this.useCache) return 0;
    try {
      const cache = await this.cacheStorage!.open(CACHE_NAME);
      const wanted = new Set(keep.flatMap((s) => [cacheKey(this.url(s.path), s.sha256), `${cacheKey(this.url(s.path), s.sha256)}${SIZE_NOTE}`]));
      let removed = 0;
      for (const req of await cache.keys()) {
        const key = typeof req === 'string' ? req : req.url;
        if (key.startsWith(this.baseUrl) && /[?&]mirage-sha256=[0-9a-f]{64}(&mirage-size)?$/.test(key) && !wanted.has(key)) {
          if (await cache.delete(req)) removed++;
        }
      }
      return removed;
    } catch {
      return 0;
    }
  }

  /**
   * A file's size without downloading it. With a sha256: from the cached shard, else from a size
   * note in Cache Storage, else probed once (under a Web Lock, so the page's workers probe each
   * shard once between them) and noted. The probe is a one-byte Range GET (Content-Range names the
   * total), not a HEAD: Chromium reports every fetch() HEAD as net::ERR_ABORTED.
   */
  async size(path: string, opts: { signal?: AbortSignal; sha256?: string; expected?: number } = {}): Promise<number | undefined> {
    const { signal, sha256, expected } = opts;
    if (!sha256 || !this.useCache) return this.probeSize(path, signal);
    const noted = () => this.noted(path, sha256);
    const probeAndNote = async () => {
      const size = await this.probeSize(path, signal);
      // Only the manifest's size is noted: a wrong one must be probed again (the file may be fixed).
      if (size !== undefined && size === expected) await this.note(path, sha256, size);
      return size;
    };
    const known = await noted();
    if (known !== undefined) return known;
    if (!this.locks) return probeAndNote();
    try {
      return await this.locks.request(`mirage-size ${this.key(path, sha256)}`, { signal }, async () => (await noted()) ?? probeAndNote());
    } catch (e) {
      if (signal?.aborted) throw new AbortError();
      throw e;
    }
  }

  /** The size of a shard cached whole, or noted by an earlier probe; undefined if neither. */
  private async noted(path: string, sha256: string): Promise<number | undefined> {
    try {
      const cache = await this.cacheStorage!.open(CACHE_NAME);
      const key = this.key(path, sha256);
      const hit = (await cache.match(key)) ?? (await cache.match(`${key}${SIZE_NOTE}`));
      const len = hit?.headers.get('content-length');
      return hit && len ? Number(len) : undefined;
    } catch {
      return undefined; // probe instead
    }
  }

  private async note(path: string, sha256: string, size: number): Promise<void> {
    try {
      const cache = await this.cacheStorage!.open(CACHE_NAME);
      await cache.put(`${this.key(path, sha256)}${SIZE_NOTE}`, new Response(null, { headers: { 'content-length': String(size) } }));
    } catch {
      /* not noted: the next open probes again */
    }
  }

  private async probeSize(path: string, signal?: AbortSignal): Promise<number | undefined> {
    try {
      const res = await this.fetchFn(this.url(path), { headers: { Range: 'bytes=0-0' }, signal });
      if (res.status === 206) {
        await res.arrayBuffer(); // the one byte, read so the request completes
        const m = /\/(\d+)$/.exec(res.headers.get('content-range')?.trim() ?? '');
        return m ? Number(m[1]) : undefined;
      }
      await res.body?.cancel().catch(() => {});
      // A 200 (no range support): its Content-Length, unless it may count compressed bytes
      // (Content-Encoding, or hidden by a cross-origin response); then no cheap size (the checksum
      // on first read still catches a wrong file).
      if (!res.ok || res.type === 'cors' || res.type === 'opaque') return undefined;
      const len = res.headers.get('content-length');
      return len !== null && !res.headers.get('content-encoding') ? Number(len) : undefined;
    } catch {
      if (signal?.aborted) throw new AbortError();
      return undefined;
    }
  }

  async read(path: string, opts: ReadOptions = {}): Promise<Uint8Array> {
    const { signal, onProgress, sha256 } = opts;
    if (signal?.aborted) throw new AbortError();
    const partial = opts.offset !== undefined || opts.length !== undefined;
    if (!partial) return this.shared.run(`whole ${path}`, signal, onProgress, (sig, progress) => this.readWhole(path, opts, sig, progress));

    if (sha256) {
      const hit = await this.cached(path, sha256);
      if (hit) {
        const [s, e] = resolveRange(path, hit.byteLength, opts);
        const out = s === 0 && e === hit.byteLength ? hit : hit.slice(s, e);
        onProgress?.(out.byteLength, out.byteLength);
        return out;
      }
    }
    const start = opts.offset ?? 0;
    if (opts.length === 0) {
      onProgress?.(0, 0);
      return new Uint8Array(0);
    }
    return this.shared.run(`range ${path} ${start} ${opts.length ?? ''}`, signal, onProgress, (sig, progress) => this.readRange(path, opts, sig, progress));
  }

  /** A whole file: from Cache Storage if there, else downloaded (under the shard's lock) and cached. */
  private async readWhole(path: string, opts: ReadOptions, signal: AbortSignal, onProgress: Progress): Promise<Uint8Array> {
    const { sha256 } = opts;
    const attempt = async () => {
      if (sha256) {
        const hit = await this.cached(path, sha256);
        if (hit) {
          onProgress(hit.byteLength, hit.byteLength);
          return hit;
        }
      }
      if (sha256 && opts.size !== undefined && this.options.resumable && this.useCache) return this.readResumable(path, sha256, opts.size, signal, onProgress);
      const res = await this.get(path, { signal });
      const whole = await this.readBody(res, path, opts.size, signal, onProgress);
      if (sha256) await this.store(path, sha256, whole);
      return whole;
    };
    if (!sha256 || !this.locks) return attempt();
    try {
      return await this.locks.request(`mirage-shard ${this.key(path, sha256)}`, { signal }, attempt);
    } catch (e) {
      if (signal.aborted) throw new AbortError();
      throw e;
    }
  }

  /** A whole file downloaded in stored chunks, resumed from those already in Cache Storage (packCache.ts). */
  private async readResumable(path: string, sha256: string, size: number, signal: AbortSignal, onProgress: Progress): Promise<Uint8Array> {
    let cache: Cache;
    try {
      cache = await this.cacheStorage!.open(CACHE_NAME);
    } catch {
      const res = await this.get(path, { signal }); // no usable cache: a plain download
      return this.readBody(res, path, size, signal, onProgress);
    }
    const d: ResumableDownload = {
      path,
      key: this.key(path, sha256),
      size,
      sha256,
      chunkBytes: this.options.resumable?.chunkBytes ?? DEFAULT_CHUNK_BYTES,
      cache: { match: (k) => cache.match(k), put: (k, r) => cache.put(k, r), delete: (k) => cache.delete(k) },
      request: (start, sig) => this.get(path, start > 0 ? { headers: { Range: `bytes=${start}-` }, signal: sig } : { signal: sig }),
      signal,
      onProgress,
    };
    const whole = await downloadResumable(d);
    await this.store(path, sha256, whole, true);
    await forgetChunks(d);
    return whole;
  }

  /** A byte range: a Range request, or the whole file sliced when the server ignores ranges. */
  private async readRange(path: string, opts: ReadOptions, signal: AbortSignal, onProgress: Progress): Promise<Uint8Array> {
    const start = opts.offset ?? 0;
    const range = opts.length === undefined ? `bytes=${start}-` : `bytes=${start}-${start + opts.length - 1}`;
    const res = await this.get(path, { headers: { Range: range }, signal });
    if (res.status === 206) {
      const cr = res.headers.get('content-range');
      const m = cr ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(cr.trim()) : null;
      if (!m || Number(m[1]) !== start || (opts.length !== undefined && Number(m[2]) !== start + opts.length - 1)) {
        await res.body?.cancel().catch(() => {});
        throw new BundleError(path, `server answered range ${range} with Content-Range "${cr}"`, {
          expected: `bytes ${start}-${opts.length === undefined ? '…' : start + opts.length - 1}/…`,
        });
      }
      const len = Number(m[2]) - Number(m[1]) + 1;
      return readStream(res.body ?? emptyStream(), path, { total: len, signal, onProgress });
    }
    // 200: no range support. Read it all (progress over the whole file), keep it cached, slice.
    const whole = await this.readBody(res, path, opts.size, signal, onProgress);
    if (opts.sha256) await this.store(path, opts.sha256, whole);
    const [s, e] = resolveRange(path, whole.byteLength, opts);
    return s === 0 && e === whole.byteLength ? whole : whole.slice(s, e);
  }

  private readBody(
    res: Response,
    path: string,
    expected: number | undefined,
    signal?: AbortSignal,
    onProgress?: (l: number, t: number) => void,
  ): Promise<Uint8Array> {
    // Content-Length counts encoded bytes when the server compresses, and cross-origin responses may
    // hide Content-Encoding: it is only a hint for progress, like the manifest's size (a shard of the
    // wrong size is reported by the loader's size check, which names the manifest field).
    const len = res.headers.get('content-length');
    const hint = !res.headers.get('content-encoding') && len !== null ? Number(len) : undefined;
    return readStream(res.body ?? emptyStream(), path, {
      total: expected ?? hint,
      exact: false,
      signal,
      onProgress,
    });
  }
}

function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (c) => c.close() });
}
