// Resumable, chunked pack downloads (src/core/bundle/packCache.ts through HttpShardSource's
// `resumable` option), with an injected fetch that records every request and can cut a body
// mid-file, and an in-memory Cache Storage the test can inspect and corrupt.
import { describe, expect, it } from 'vitest';
import { AbortError, BundleError } from '../../../src/core/base/errors.ts';
import { CACHE_NAME, cacheKey as urlKey, HttpShardSource, PACK_KEY_TAG } from '../../../src/core/bundle/httpSource.ts';
import { chunkKey } from '../../../src/core/bundle/packCache.ts';
import { sha256Hex } from '../../../src/core/bundle/sha256.ts';
import { MemoryCaches } from './memoryCaches.ts';

const BASE = 'http://packs.test/clip/';
/** A pack source's cache key: URL + sha256, tagged as a pack's. */
const cacheKey = (url: string, sha256: string) => `${urlKey(url, sha256)}${PACK_KEY_TAG}`;
const CHUNK = 1000;

/** A file of `n` bytes that differ from position to position (a misplaced chunk changes the hash). */
function fileBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8) * 7) & 255;
  return b;
}

interface Server {
  fetch: typeof fetch;
  requests: { url: string; range: string | null }[];
  /** Cut the next body after this many bytes (a network error), once. */
  cutAfter?: number;
  /** Ignore Range headers (answer 200 with the whole file). */
  noRanges?: boolean;
}

/** An in-process server for one file: Range support, bodies sent in 256-byte pieces. */
function server(files: Record<string, Uint8Array>): Server {
  const s: Server = {
    requests: [],
    fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = String(input);
      const range = new Headers(init?.headers).get('range');
      s.requests.push({ url, range });
      const body = files[url.slice(BASE.length)];
      if (!body) return new Response('not found', { status: 404 });
      let part = body;
      let status = 200;
      const headers: Record<string, string> = {};
      const m = range && !s.noRanges ? /^bytes=(\d+)-$/.exec(range) : null;
      if (m) {
        part = body.subarray(Number(m[1]));
        status = 206;
        headers['content-range'] = `bytes ${m[1]}-${body.length - 1}/${body.length}`;
      }
      headers['content-length'] = String(part.length);
      const cut = s.cutAfter;
      s.cutAfter = undefined;
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(c) {
          if (init?.signal?.aborted) return c.error(new DOMException('aborted', 'AbortError'));
          if (cut !== undefined && sent >= cut) return c.error(new TypeError('network error: connection reset'));
          if (sent >= part.length) return c.close();
          const n = Math.min(256, part.length - sent, cut !== undefined ? cut - sent : Infinity);
          c.enqueue(part.slice(sent, sent + n));
          sent += n;
        },
      });
      return new Response(stream, { status, headers });
    }) as typeof fetch,
  };
  return s;
}

const PATH = 'models/clip.weights-0.bin';
const data = fileBytes(4500);
const sha = await sha256Hex(data);

function source(srv: Server, caches: MemoryCaches) {
  return new HttpShardSource(BASE, { fetch: srv.fetch, cacheStorage: caches as unknown as CacheStorage, resumable: { chunkBytes: CHUNK } });
}

const read = (src: HttpShardSource, onProgress?: (l: number, t: number) => void, signal?: AbortSignal) => src.read(PATH, { sha256: sha, size: data.length, onProgress, signal });

describe('resumable pack downloads (Cache Storage chunks)', () => {
  it('a second load makes zero requests; chunks are replaced by the one whole entry', async () => {
    const srv = server({ [PATH]: data });
    const caches = new MemoryCaches();
    const progress: number[] = [];
    expect(await read(source(srv, caches), (l) => progress.push(l))).toEqual(data);
    expect(srv.requests).toHaveLength(1);
    expect(srv.requests[0].range).toBeNull();
    expect(progress.at(-1)).toBe(data.length);
    expect(progress.every((v, i) => i === 0 || v >= progress[i - 1])).toBe(true);
    const store = caches.stores.get(CACHE_NAME)!;
    expect([...store.keys()]).toEqual([cacheKey(`${BASE}${PATH}`, sha)]);

    const again = server({ [PATH]: data });
    expect(await read(source(again, caches))).toEqual(data);
    expect(again.requests).toHaveLength(0);
  });

  it('an interrupted load keeps its completed chunks and resumes with Range: bytes=<k>-, ending with the right sha256', async () => {
    const srv = server({ [PATH]: data });
    srv.cutAfter = 2600; // chunks 0 and 1 complete, chunk 2 half-way
    const caches = new MemoryCaches();
    const err = await read(source(srv, caches)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BundleError);
    expect(String((err as Error).message)).toMatch(/interrupted at byte 2600 of 4500/);
    const key = cacheKey(`${BASE}${PATH}`, sha);
    const store = caches.stores.get(CACHE_NAME)!;
    expect([...store.keys()].sort()).toEqual([chunkKey(key, 0), chunkKey(key, 1)]);

    const progress: number[] = [];
    const bytes = await read(source(srv, caches), (l) => progress.push(l));
    expect(srv.requests.map((r) => r.range)).toEqual([null, 'bytes=2000-']);
    expect(progress[0]).toBe(2000); // the resumed bytes count from the start
    expect(await sha256Hex(bytes)).toBe(sha);
    expect(bytes).toEqual(data);
    expect([...store.keys()]).toEqual([key]);
  });

  it('a corrupted cached chunk is detected and refetched from its start', async () => {
    const srv = server({ [PATH]: data });
    srv.cutAfter = 3500; // chunks 0..2 stored
    const caches = new MemoryCaches();
    await expect(read(source(srv, caches))).rejects.toThrow(/interrupted/);
    const key = cacheKey(`${BASE}${PATH}`, sha);
    const entry = caches.stores.get(CACHE_NAME)!.get(chunkKey(key, 1))!;
    entry.bytes[17] ^= 0xff; // one flipped byte in chunk 1, its stored sha256 unchanged
    const bytes = await read(source(srv, caches));
    expect(srv.requests.map((r) => r.range)).toEqual([null, 'bytes=1000-']);
    expect(bytes).toEqual(data);
  });

  it('a chunk stale but consistent with its own header is caught by the whole sha256: one download from byte 0', async () => {
    const srv = server({ [PATH]: data });
    srv.cutAfter = 1500;
    const caches = new MemoryCaches();
    await expect(read(source(srv, caches))).rejects.toThrow(/interrupted/);
    const key = cacheKey(`${BASE}${PATH}`, sha);
    const wrong = fileBytes(CHUNK).map((v) => v ^ 1);
    caches.stores.get(CACHE_NAME)!.set(chunkKey(key, 0), { bytes: wrong, headers: new Headers({ 'x-mirage-chunk-sha256': await sha256Hex(wrong) }) });
    expect(await read(source(srv, caches))).toEqual(data);
    expect(srv.requests.map((r) => r.range)).toEqual([null, 'bytes=1000-', null]);
  });

  it('a server that ignores the Range on resume is read from byte 0', async () => {
    const srv = server({ [PATH]: data });
    srv.cutAfter = 2100;
    const caches = new MemoryCaches();
    await expect(read(source(srv, caches))).rejects.toThrow(/interrupted/);
    srv.noRanges = true;
    expect(await read(source(srv, caches))).toEqual(data);
    expect(srv.requests.map((r) => r.range)).toEqual([null, 'bytes=2000-']);
  });

  it('a file whose bytes are not the manifest sha256 is refused and not cached', async () => {
    const srv = server({ [PATH]: fileBytes(4500).map((v) => v ^ 2) });
    const caches = new MemoryCaches();
    await expect(read(source(srv, caches))).rejects.toThrow(/sha256 of the downloaded file differs/);
    expect(caches.stores.get(CACHE_NAME)!.size).toBe(0);
  });

  it("a bundle's cache pruning never drops the files of a pack inside the bundle's folder", async () => {
    const srv = server({ [PATH]: data });
    const caches = new MemoryCaches();
    await read(source(srv, caches));
    // the bundle at the parent URL prunes entries its manifest does not list
    const bundle = new HttpShardSource('http://packs.test/', { fetch: srv.fetch, cacheStorage: caches as unknown as CacheStorage });
    expect(await bundle.pruneCache([{ path: 'manifest-listed.bin', sha256: '0'.repeat(64) }])).toBe(0);
    const again = server({ [PATH]: data });
    expect(await read(source(again, caches))).toEqual(data);
    expect(again.requests).toHaveLength(0);
  });

  it('cancel (abort) stops the download with an AbortError and keeps the completed chunks for the next load', async () => {
    const srv = server({ [PATH]: data });
    const caches = new MemoryCaches();
    const ac = new AbortController();
    const err = await read(source(srv, caches), (l) => l >= 1200 && ac.abort(), ac.signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    const key = cacheKey(`${BASE}${PATH}`, sha);
    expect(caches.stores.get(CACHE_NAME)!.has(chunkKey(key, 0))).toBe(true);
    expect(await read(source(srv, caches))).toEqual(data);
    expect(srv.requests.at(-1)!.range).toBe('bytes=1000-');
  });
});
