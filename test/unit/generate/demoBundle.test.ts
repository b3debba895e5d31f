// `mirage demo` writes the demo model pack next to the bundle (<bundle>/modelpack/), the folder the
// reconstruct panel and `mirage reconstruct` look for; the pack is deterministic like the bundle and
// cancellation stops the pack build too.
import { describe, expect, it } from 'vitest';
import { buildDemo } from '../../../src/core/simulate/buildDemo.ts';
import { loadModelPack, PACK_MANIFEST } from '../../../src/core/generate/modelPack.ts';
import { PrefixSource } from '../../../src/core/bundle/prefixSource.ts';
import { MemoryStore } from './memory.ts';

const tiny = {
  voxels: 50,
  trainImages: 50,
  galleryImages: 4,
  decodedSubjects: [1],
  tuningSubjects: [],
  alphas: [1000],
  ranks: { image: 4, text: 4, blurry: 4, retrieval: 4, prompt: 4 },
  createdAt: '2026-01-01T00:00:00.000Z',
};

async function build(seed: number, signal?: AbortSignal) {
  const mem = new MemoryStore();
  const labels: string[] = [];
  const manifest = await buildDemo(mem, { ...tiny, seed, signal, onProgress: (d, t, l) => labels.push(`${d}/${t} ${l}`) });
  return { mem, labels, manifest };
}

const packFiles = (mem: MemoryStore) => [...mem.files.keys()].filter((k) => k.startsWith('modelpack/')).sort();

describe('mirage demo writes the demo model pack', () => {
  it('puts a loadable, deterministic pack under modelpack/', async () => {
    const a = await build(5);
    const b = await build(5);
    const files = packFiles(a.mem);
    expect(files).toContain(`modelpack/${PACK_MANIFEST}`);
    expect(files.length).toBeGreaterThan(5);
    expect(packFiles(b.mem)).toEqual(files);
    for (const f of files) expect(Buffer.from(b.mem.files.get(f)!).equals(Buffer.from(a.mem.files.get(f)!)), f).toBe(true);
    expect(a.labels.some((l) => l.includes('model pack'))).toBe(true);
    // progress reaches its total exactly once, at the end
    expect(a.labels.at(-1)).toMatch(/^(\d+)\/\1 done$/);
    const pack = await loadModelPack(new PrefixSource(a.mem, 'modelpack/'));
    expect(pack.manifest.provenance.kind).toBe('simulated');
    expect(pack.manifest.provenance.createdAt).toBe(tiny.createdAt);
  }, 60_000);

  it('stops inside the pack build when cancelled', async () => {
    const ctl = new AbortController();
    const mem = new MemoryStore();
    const run = buildDemo(mem, {
      ...tiny,
      seed: 5,
      signal: ctl.signal,
      onProgress: (_d, _t, l) => {
        if (l.startsWith('model pack:')) ctl.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(mem.files.has(`modelpack/${PACK_MANIFEST}`)).toBe(false);
  }, 60_000);
});
