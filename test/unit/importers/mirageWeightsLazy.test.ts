import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileSource } from '../../../src/node/files.ts';
import { discoverHeads } from '../../../src/node/importRun.ts';
import type { ExistingBundle } from '../../../src/core/importers/common.ts';
import { importMirageWeights } from '../../../src/core/importers/mirageWeights.ts';
import { FIX, memoryWriter, nsdBaseBundle } from '../import/helpers.ts';

const baseBundle = (): Promise<ExistingBundle> => nsdBaseBundle('mirage import nsd-imagery');

async function importWith(existing: ExistingBundle, lazyBytes?: number) {
  const { writer, files } = memoryWriter();
  const heads = await discoverHeads(join(FIX, 'weights', 'subj01'), []);
  const { body } = await importMirageWeights({
    existing,
    writer,
    subject: 1,
    rank: 3,
    heads: await Promise.all(heads.map(async (h) => ({ head: h.head, pickle: await fileSource(h.pickle) }))),
    command: 'mirage import mirage-weights',
    lazyBytes,
  });
  const m = await writer.finish(body);
  return m.subjects[0].heads.map((h) => {
    const shard = files.get(h.intercept.shard)!;
    const n = h.intercept.shape.reduce((a, b) => a * b, 1);
    return { name: h.name, intercept: Array.from(new Float32Array(shard.buffer.slice(shard.byteOffset + h.intercept.offset, shard.byteOffset + h.intercept.offset + 4 * n))) };
  });
}

describe('import mirage-weights: arrays left on disk', () => {
  // MIRAGE's retrieval/prompt intercepts (257x1024 float32 = 1 MiB) are past the default lazy
  // threshold; a tiny threshold puts the fixture's intercepts on disk the same way.
  it('reads an intercept that the pickle reader left on disk', async () => {
    const existing = await baseBundle();
    const inMemory = await importWith(existing);
    const onDisk = await importWith(existing, 16);
    expect(onDisk).toEqual(inMemory);
    expect(inMemory[0].intercept.some((x) => x !== 0)).toBe(true);
  });
});
