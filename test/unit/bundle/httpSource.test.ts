// HttpShardSource against real node:http servers in the test: one honouring Range (206), one that
// ignores it (200); progress, abort, Cache Storage, and a whole Bundle opened over HTTP.
import { createServer, type Server } from 'node:http';
import { appendFileSync, readFileSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError, BundleError } from '../../../src/core/base/errors.ts';
import { CACHE_NAME, HttpShardSource, type ShardLocks } from '../../../src/core/bundle/httpSource.ts';
import { Bundle } from '../../../src/core/bundle/loader.ts';
import { flipByte, writeTinyBundle } from './tinyBundle.ts';
import { removeTinyBundles } from './tinyBundle.ts';
import { MemoryCaches } from './memoryCaches.ts';

interface Served {
  url: string;
  server: Server;
  requests: { path: string; range?: string; method: string }[];
}

/** Serves `dir`; with `ranges` it answers Range requests with 206, else always the whole file (200). */
function serve(
  dir: string,
  opts: { ranges: boolean; chunk?: number; stallAfter?: number; gzip?: boolean },
): Promise<Served> {
  const requests: Served['requests'] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url!, 'http://x').pathname).slice(1);
    requests.push({ path, range: req.headers.range, method: req.method! });
    const file = normalize(join(dir, path));
    let body: Buffer;
    try {
      if (!statSync(file).isFile()) throw new Error();
      body = readFileSync(file);
    } catch {
      res.writeHead(404).end('not found');
      return;
    }
    let status = 200;
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    const m = opts.ranges && req.headers.range ? /^bytes=(\d+)-(\d*)$/.exec(req.headers.range) : null;
    if (m) {
      const start = Number(m[1]);
      const end = m[2] ? Math.min(Number(m[2]), body.length - 1) : body.length - 1;
      headers['content-range'] = `bytes ${start}-${end}/${body.length}`;
      body = body.subarray(start, end + 1);
      status = 206;
    }
    if (opts.ranges) headers['accept-ranges'] = 'bytes';
    if (opts.gzip) {
      body = gzipSync(body);
      headers['content-encoding'] = 'gzip';
    }
    headers['content-length'] = String(body.length);
    res.writeHead(status, headers);
    if (req.method === 'HEAD') return void res.end();
    // Send in small chunks so progress has several steps; optionally stall (for abort tests).
    const chunk = opts.chunk ?? 64;
    let o = 0;
    const pump = () => {
      if (opts.stallAfter !== undefined && o >= opts.stallAfter) return; // never finishes
      if (o >= body.length) return void res.end();
      res.write(body.subarray(o, o + chunk));
      o += chunk;
      setImmediate(pump);
    };
    pump();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server, requests }),
    ),
  );
}

/** Web Locks as one page's workers share them: a FIFO per name, a waiter may leave on abort. */
class MemoryLocks implements ShardLocks {
  private readonly tails = new Map<string, Promise<unknown>>();
  request<T>(name: string, options: { signal?: AbortSignal }, callback: () => Promise<T>): Promise<T> {
    const before = this.tails.get(name) ?? Promise.resolve();
    const run = before.then(() => {
      if (options.signal?.aborted) throw new DOMException('aborted', 'AbortError');
      return callback();
    });
    this.tails.set(name, run.catch(() => undefined));
    return run;
  }
}

let dir: string;
let big: Uint8Array;
let withRanges: Served;
let noRanges: Served;
beforeAll(async () => {
  ({ dir } = await writeTinyBundle());
  big = readFileSync(join(dir, 'misc/tensors.bin'));
  withRanges = await serve(dir, { ranges: true });
  noRanges = await serve(dir, { ranges: false });
});
afterAll(() => {
  removeTinyBundles();
  withRanges.server.close();
  noRanges.server.close();
});

describe('HttpShardSource', () => {
  it('reads a whole file with monotonic byte progress ending at the total', async () => {
    const src = new HttpShardSource(withRanges.url, { cache: false });
    const seen: [number, number][] = [];
    const bytes = await src.read('misc/tensors.bin', { onProgress: (l, t) => seen.push([l, t]) });
    expect(Buffer.from(bytes).equals(Buffer.from(big))).toBe(true);
    expect(seen.length).toBeGreaterThan(2);
    for (let i = 1; i < seen.length; i++) expect(seen[i][0]).toBeGreaterThanOrEqual(seen[i - 1][0]);
    for (const [l, t] of seen) expect(l).toBeLessThanOrEqual(t);
    expect(seen.at(-1)).toEqual([big.length, big.length]);
  });

  it('uses a Range request where the server answers 206', async () => {
    const src = new HttpShardSource(withRanges.url, { cache: false });
    withRanges.requests.length = 0;
    const seen: number[] = [];
    const part = await src.read('misc/tensors.bin', { offset: 10, length: 50, onProgress: (l) => seen.push(l) });
    expect(Array.from(part)).toEqual(Array.from(big.subarray(10, 60)));
    expect(withRanges.requests).toEqual([{ path: 'misc/tensors.bin', range: 'bytes=10-59', method: 'GET' }]);
    expect(seen.at(-1)).toBe(50);
  });

  it('falls back to a full GET and slices where the server ignores Range (200)', async () => {
    const src = new HttpShardSource(noRanges.url, { cache: false });
    const part = await src.read('misc/tensors.bin', { offset: 10, length: 50 });
    expect(Array.from(part)).toEqual(Array.from(big.subarray(10, 60)));
    await expect(src.read('misc/tensors.bin', { offset: big.length - 4, length: 8 })).rejects.toThrow(
      /runs past the end of the file/,
    );
  });

  it('names the file on HTTP 404', async () => {
    const src = new HttpShardSource(withRanges.url, { cache: false });
    const e = await src.read('nope.bin').catch((x) => x);
    expect(e).toBeInstanceOf(BundleError);
    expect(e.message).toMatch(/^nope\.bin: HTTP 404 .* \(expected the file to exist on the server\)$/);
  });

  it('aborts a stalled download', async () => {
    const stalled = await serve(dir, { ranges: true, stallAfter: 128 });
    try {
      const src = new HttpShardSource(stalled.url, { cache: false });
      const ac = new AbortController();
      let loaded = 0;
      const p = src.read('misc/tensors.bin', {
        signal: ac.signal,
        onProgress: (l) => {
          loaded = l;
          if (l >= 128) ac.abort();
        },
      });
      await expect(p).rejects.toBeInstanceOf(AbortError);
      expect(loaded).toBe(128);
    } finally {
      stalled.server.closeAllConnections();
      stalled.server.close();
    }
  });

  it('caches whole verified shards under URL + sha256 so a second visit makes no request', async () => {
    const caches = new MemoryCaches();
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    const shard = m.shards.find((s: { path: string }) => s.path === 'misc/tensors.bin');
    const first = new HttpShardSource(noRanges.url, { cacheStorage: caches as unknown as CacheStorage });
    noRanges.requests.length = 0;
    await first.read('misc/tensors.bin', { sha256: shard.sha256 });
    expect(noRanges.requests).toHaveLength(1);
    const keys = [...caches.stores.get(CACHE_NAME)!.keys()];
    expect(keys).toEqual([`${noRanges.url}misc/tensors.bin?mirage-sha256=${shard.sha256}`]);
    const second = new HttpShardSource(noRanges.url, { cacheStorage: caches as unknown as CacheStorage });
    const seen: number[] = [];
    const again = await second.read('misc/tensors.bin', { sha256: shard.sha256, onProgress: (l) => seen.push(l) });
    const part = await second.read('misc/tensors.bin', { sha256: shard.sha256, offset: 4, length: 8 });
    expect(noRanges.requests).toHaveLength(1); // served from the cache
    expect(await second.size('misc/tensors.bin', { sha256: shard.sha256 })).toBe(big.length);
    expect(noRanges.requests).toHaveLength(1); // size of a cached shard: no HEAD either
    expect(Buffer.from(again).equals(Buffer.from(big))).toBe(true);
    expect(Array.from(part)).toEqual(Array.from(big.subarray(4, 12)));
    expect(seen.at(-1)).toBe(big.length);
    // Bytes that do not hash to the promised sha256 are never cached.
    await first.read('misc/tensors.bin', { sha256: 'f'.repeat(64) });
    expect(caches.stores.get(CACHE_NAME)!.size).toBe(1);
    // A rebuilt bundle no longer lists that sha256: pruning drops the stale entry, keeps listed ones.
    const rois = m.shards.find((s: { path: string }) => s.path === 'subj01/rois.bin');
    await first.read('subj01/rois.bin', { sha256: rois.sha256 });
    expect(await first.pruneCache([rois])).toBe(1);
    expect([...caches.stores.get(CACHE_NAME)!.keys()]).toEqual([
      `${noRanges.url}subj01/rois.bin?mirage-sha256=${rois.sha256}`,
    ]);
  });
});

describe('HttpShardSource: each byte range fetched once', () => {
  const shardOf = (path: string): { sha256: string; bytes: number } =>
    JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).shards.find((s: { path: string }) => s.path === path);
  const gets = (s: Served, path: string) => s.requests.filter((r) => r.method === 'GET' && r.path === path);

  it('concurrent reads of one file or one range share one request, each reader gets its own bytes', async () => {
    const src = new HttpShardSource(withRanges.url, { cache: false });
    withRanges.requests.length = 0;
    const whole = await Promise.all([src.read('misc/tensors.bin'), src.read('misc/tensors.bin'), src.read('misc/tensors.bin')]);
    expect(gets(withRanges, 'misc/tensors.bin')).toHaveLength(1);
    for (const b of whole) expect(Buffer.from(b).equals(Buffer.from(big))).toBe(true);
    expect(whole[0].buffer).not.toBe(whole[1].buffer); // one reader may transfer its buffer
    withRanges.requests.length = 0;
    const parts = await Promise.all([src.read('misc/tensors.bin', { offset: 8, length: 40 }), src.read('misc/tensors.bin', { offset: 8, length: 40 })]);
    expect(withRanges.requests).toEqual([{ path: 'misc/tensors.bin', range: 'bytes=8-47', method: 'GET' }]);
    for (const p of parts) expect(Array.from(p)).toEqual(Array.from(big.subarray(8, 48)));
    expect(src.shared.size).toBe(0);
  });

  it('a reader that aborts does not cancel the request another reader still waits for', async () => {
    const slow = await serve(dir, { ranges: true, chunk: 16 });
    try {
      const src = new HttpShardSource(slow.url, { cache: false });
      const ac = new AbortController();
      const first = src.read('misc/tensors.bin', { signal: ac.signal, onProgress: (l) => l > 0 && ac.abort() });
      const second = src.read('misc/tensors.bin');
      await expect(first).rejects.toBeInstanceOf(AbortError);
      expect(Buffer.from(await second).equals(Buffer.from(big))).toBe(true);
      expect(gets(slow, 'misc/tensors.bin')).toHaveLength(1);
    } finally {
      slow.server.close();
    }
  });

  it('cancels the request once every reader has given up', async () => {
    const stalled = await serve(dir, { ranges: true, stallAfter: 128 });
    try {
      const src = new HttpShardSource(stalled.url, { cache: false });
      const a = new AbortController();
      const b = new AbortController();
      let loaded = 0;
      const pa = src.read('misc/tensors.bin', { signal: a.signal, onProgress: (l) => (loaded = l) });
      const pb = src.read('misc/tensors.bin', { signal: b.signal });
      await expect.poll(() => loaded).toBe(128);
      a.abort();
      await expect(pa).rejects.toBeInstanceOf(AbortError);
      expect(src.shared.size).toBe(1); // b still waits: the download goes on
      b.abort();
      await expect(pb).rejects.toBeInstanceOf(AbortError);
      expect(src.shared.size).toBe(0);
      expect(gets(stalled, 'misc/tensors.bin')).toHaveLength(1); // both readers were on one request
    } finally {
      stalled.server.closeAllConnections();
      stalled.server.close();
    }
  });

  it('sources in different workers (one cache, one lock manager) download a shard once', async () => {
    const caches = new MemoryCaches() as unknown as CacheStorage;
    const locks = new MemoryLocks();
    const shard = shardOf('misc/tensors.bin');
    // Four workers (decode, cortex, generate, evaluate), each with its own source.
    const sources = Array.from({ length: 4 }, () => new HttpShardSource(noRanges.url, { cacheStorage: caches, locks }));
    noRanges.requests.length = 0;
    const all = await Promise.all(sources.map((s) => s.read('misc/tensors.bin', { sha256: shard.sha256, size: shard.bytes })));
    expect(gets(noRanges, 'misc/tensors.bin')).toHaveLength(1);
    for (const b of all) expect(Buffer.from(b).equals(Buffer.from(big))).toBe(true);
    // Without the shared lock each would have fetched it.
    const unlocked = Array.from({ length: 4 }, () => new HttpShardSource(noRanges.url, { cacheStorage: new MemoryCaches() as unknown as CacheStorage }));
    noRanges.requests.length = 0;
    await Promise.all(unlocked.map((s) => s.read('misc/tensors.bin', { sha256: shard.sha256 })));
    expect(gets(noRanges, 'misc/tensors.bin')).toHaveLength(4);
  });
});

describe('HttpShardSource.size: one probe per shard for all workers, no HEAD', () => {
  it('probes with a one-byte Range GET once, notes the size, and every other source reads the note', async () => {
    const caches = new MemoryCaches() as unknown as CacheStorage;
    const locks = new MemoryLocks();
    const { sha256, bytes: expected } = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).shards.find((s: { path: string }) => s.path === 'misc/tensors.bin');
    const sources = Array.from({ length: 4 }, () => new HttpShardSource(withRanges.url, { cacheStorage: caches, locks }));
    withRanges.requests.length = 0;
    const sizes = await Promise.all(sources.map((s) => s.size('misc/tensors.bin', { sha256, expected })));
    expect(sizes).toEqual([big.length, big.length, big.length, big.length]);
    expect(withRanges.requests).toEqual([{ path: 'misc/tensors.bin', range: 'bytes=0-0', method: 'GET' }]);
    // A later open (another visit) needs no request at all.
    expect(await new HttpShardSource(withRanges.url, { cacheStorage: caches, locks }).size('misc/tensors.bin', { sha256, expected })).toBe(big.length);
    expect(withRanges.requests).toHaveLength(1);
  });

  it('never notes a size that differs from the manifest (a since-fixed file must not stay "wrong")', async () => {
    const caches = new MemoryCaches() as unknown as CacheStorage;
    const src = new HttpShardSource(withRanges.url, { cacheStorage: caches, locks: new MemoryLocks() });
    withRanges.requests.length = 0;
    expect(await src.size('misc/tensors.bin', { sha256: 'a'.repeat(64), expected: big.length + 1 })).toBe(big.length);
    expect(await src.size('misc/tensors.bin', { sha256: 'a'.repeat(64), expected: big.length + 1 })).toBe(big.length);
    expect(withRanges.requests).toHaveLength(2); // probed each time
  });

  it('falls back to Content-Length where the server ignores Range', async () => {
    const src = new HttpShardSource(noRanges.url, { cache: false });
    expect(await src.size('misc/tensors.bin')).toBe(big.length);
  });
});

describe('Bundle over HTTP', () => {
  it('opens a bundle from a server that gzips every response (Content-Length counts compressed bytes)', async () => {
    const gz = await serve(dir, { ranges: false, gzip: true });
    try {
      const seen: number[] = [];
      const b = await Bundle.open(new HttpShardSource(gz.url, { cache: false }), {
        onProgress: (p) => seen.push(p.loadedBytes),
      });
      expect((await b.trialBetas(3)).length).toBe(12);
      expect(seen.at(-1)).toBe(b.manifest.shards.reduce((a, s) => a + s.bytes, 0));
    } finally {
      gz.server.close();
    }
  });

  for (const ranges of [true, false]) {
    it(`opens and reads tensors (${ranges ? 'Range' : 'no Range'} server, verify sizes then on first read)`, async () => {
      const served = ranges ? withRanges : noRanges;
      const b = await Bundle.open(new HttpShardSource(served.url, { cache: false }), { verify: 'sizes' });
      const betas = await b.trialBetas(2);
      expect(betas.length).toBe(12);
      expect(Array.from(await b.roiVoxels(1, 'V1'))).toEqual([0, 3, 11]);
    });
  }

  it('names a shard of the wrong size or content served over HTTP', async () => {
    const { dir: other } = await writeTinyBundle();
    appendFileSync(join(other, 'features.bin'), Buffer.from([9]));
    flipByte(join(other, 'subj01/rois.bin'), 0);
    const served = await serve(other, { ranges: true });
    try {
      const e = await Bundle.open(new HttpShardSource(served.url, { cache: false })).catch((x) => x);
      expect(e).toBeInstanceOf(BundleError);
      expect(e.message).toMatch(/^features\.bin: bytes: wrong size: 25 bytes \(expected 24 bytes/m);
      expect(e.message).toMatch(/^subj01\/rois\.bin: sha256: checksum mismatch/m);
      const sized = await Bundle.open(new HttpShardSource(served.url, { cache: false }), { verify: 'sizes' }).catch(
        (x) => x,
      );
      expect(sized.message).toMatch(/^features\.bin: bytes: wrong size: 25 bytes/); // via HEAD
    } finally {
      served.server.close();
    }
  });

  it('reads ranges after verifying a shard too large to keep in memory', async () => {
    withRanges.requests.length = 0;
    const b = await Bundle.open(new HttpShardSource(withRanges.url, { cache: false }), {
      verify: 'full',
      keepShardBytes: 0,
    });
    withRanges.requests.length = 0;
    await b.trialBetas(1);
    expect(withRanges.requests).toHaveLength(1);
    expect(withRanges.requests[0].range).toMatch(/^bytes=\d+-\d+$/);
  });
});
