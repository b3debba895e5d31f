import { describe, expect, it } from 'vitest';
import { BundleError } from '../../../src/core/base/errors.ts';
import { MemoryStore } from '../../../src/core/bundle/memoryStore.ts';

describe('MemoryStore', () => {
  it('keeps a copy of what was written and reads whole files and byte ranges', async () => {
    const store = new MemoryStore();
    const bytes = Uint8Array.from([1, 2, 3, 4, 5]);
    await store.write('a/b.bin', bytes);
    bytes[0] = 99; // the writer reusing its buffer must not change the stored file
    expect([...(await store.read('a/b.bin'))]).toEqual([1, 2, 3, 4, 5]);
    expect([...(await store.read('a/b.bin', { offset: 1, length: 3 }))]).toEqual([2, 3, 4]);
    expect(await store.size('a/b.bin')).toBe(5);
    expect(await store.size('missing')).toBeUndefined();
  });

  it('copies a Node Buffer too (Buffer#slice shares memory), and hands out copies on read', async () => {
    const store = new MemoryStore();
    const buf = Buffer.from([1, 2, 3, 4]);
    await store.write('buf.bin', buf);
    buf[1] = 77; // a writer reusing a pooled Buffer
    const got = await store.read('buf.bin');
    expect(Buffer.isBuffer(store.files.get('buf.bin'))).toBe(false);
    expect([...got]).toEqual([1, 2, 3, 4]);
    got[0] = 55; // a reader changing what it got must not change the store either
    expect([...(await store.read('buf.bin'))]).toEqual([1, 2, 3, 4]);
  });

  it('names the file when it is missing or a range runs past its end', async () => {
    const store = new MemoryStore('test store');
    await store.write('x.bin', new Uint8Array(4));
    await expect(store.read('y.bin')).rejects.toThrow(BundleError);
    await expect(store.read('y.bin')).rejects.toThrow(/y\.bin.*test store/);
    await expect(store.read('x.bin', { offset: 2, length: 3 })).rejects.toThrow(/x\.bin.*past the end/);
  });
});
