// The generic pack loader (src/core/bundle/pack.ts) that model, metric and encoding packs share:
// manifest JSON and schema errors, files[] listing, size and sha256 checks, byte progress, abort.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AbortError } from '../../../src/core/base/errors.ts';
import type { ByteProgress } from '../../../src/core/base/progress.ts';
import { MemoryStore } from '../../../src/core/bundle/memoryStore.ts';
import { PackFileSchema, PackFileWriter, PackPathSchema, parsePackManifest, readPackFile, readPackFiles, readPackJson, requireListed } from '../../../src/core/bundle/pack.ts';

const TestPack = z.object({ name: z.string(), files: z.array(PackFileSchema), main: PackPathSchema });

async function pack(): Promise<{ mem: MemoryStore; files: z.infer<typeof PackFileSchema>[] }> {
  const mem = new MemoryStore('mem-pack');
  const w = new PackFileWriter(mem);
  await w.add('a.bin', Uint8Array.from([1, 2, 3]));
  await w.add('dir/b.bin', new Uint8Array(1000).fill(7));
  await w.writeManifest('test.json', { name: 't', files: w.files, main: 'a.bin' });
  return { mem, files: w.files };
}

describe('pack loader', () => {
  it('writes files[] with sizes and sha256, and reads every file back verified with byte progress', async () => {
    const { mem, files } = await pack();
    expect(files.map((f) => [f.path, f.bytes])).toEqual([['a.bin', 3], ['dir/b.bin', 1000]]);
    const m = parsePackManifest(TestPack, await readPackJson(mem, 'test.json', 'a test pack'), 'mem-pack/test.json');
    const seen: ByteProgress[] = [];
    const got = await readPackFiles(mem, m.files, undefined, { onProgress: (p) => seen.push({ ...p }) });
    expect([...got.keys()]).toEqual(['a.bin', 'dir/b.bin']);
    expect(Array.from(got.get('a.bin')!)).toEqual([1, 2, 3]);
    expect(seen.every((p) => p.totalBytes === 1003)).toBe(true);
    expect(seen.at(-1)).toEqual({ loadedBytes: 1003, totalBytes: 1003, file: 'dir/b.bin' });
    for (let i = 1; i < seen.length; i++) expect(seen[i].loadedBytes).toBeGreaterThanOrEqual(seen[i - 1].loadedBytes);
    // only the files asked for, progress over those
    const one: ByteProgress[] = [];
    expect((await readPackFile(mem, m.files, 'dir/b.bin', { onProgress: (p) => one.push(p) })).length).toBe(1000);
    expect(one.at(-1)!.totalBytes).toBe(1000);
  });

  it('names the file and field when a file differs from files[] (size, sha256) or is not listed', async () => {
    const { mem, files } = await pack();
    mem.files.set('a.bin', Uint8Array.from([1, 2, 4]));
    await expect(readPackFile(mem, files, 'a.bin')).rejects.toThrow(/^mem-pack\/a\.bin: files\[\]\.sha256: sha256 [0-9a-f]{64} does not match the manifest/);
    expect(Array.from(await readPackFile(mem, files, 'a.bin', { verify: false }))).toEqual([1, 2, 4]);
    mem.files.set('a.bin', Uint8Array.from([1, 2]));
    await expect(readPackFile(mem, files, 'a.bin')).rejects.toThrow(/mem-pack\/a\.bin: files\[\]\.bytes: file has 2 bytes \(expected 3\)/);
    await expect(readPackFile(mem, files, 'c.bin')).rejects.toThrow(/mem-pack\/c\.bin: files\[\]\.path: not listed in the pack manifest/);
    expect(() => requireListed(files, 'p.json', [['a.bin', 'main'], ['x.onnx', 'stages.x.file']])).toThrow(/p\.json: stages\.x\.file: "x\.onnx" is not listed in files/);
  });

  it('refuses bad JSON, a bad schema field and a path leaving the pack, naming file and field', async () => {
    const { mem, files } = await pack();
    mem.files.set('test.json', new TextEncoder().encode('<html>'));
    await expect(readPackJson(mem, 'test.json', 'a test pack')).rejects.toThrow(/mem-pack\/test\.json: not valid JSON \(expected a test pack\)/);
    expect(() => parsePackManifest(TestPack, { name: 't', files, main: '../etc/passwd' }, 'p.json')).toThrow(/p\.json: main: expected a relative path inside the pack/);
    expect(() => parsePackManifest(TestPack, { name: 't', files: [{ ...files[0], sha256: 'XYZ' }], main: 'a.bin' }, 'p.json')).toThrow(/files\.0\.sha256: expected 64 lowercase hex/);
  });

  it('stops before reading when the signal is aborted', async () => {
    const { mem, files } = await pack();
    const ac = new AbortController();
    ac.abort();
    await expect(readPackFiles(mem, files, undefined, { signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
  });
});
