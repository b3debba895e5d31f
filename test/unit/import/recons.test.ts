import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileSource } from '../../../src/node/files.ts';
import type { ExistingBundle } from '../../../src/core/importers/common.ts';
import { importRecons, parseCaptions } from '../../../src/core/importers/recons.ts';
import { encodePng } from '../../../src/core/tensor/png.ts';
import { FIX, json, memoryWriter, nsdBaseBundle, tempDir } from './helpers.ts';

const baseBundle = (): Promise<ExistingBundle> => nsdBaseBundle('nsd');

describe('import recons', () => {
  it("reads MIRAGE's (N, reps, 3, H, W) tensor and captions into a reconstruction set", async () => {
    const { writer, files } = memoryWriter();
    const R = join(FIX, 'recons');
    const captions = parseCaptions(JSON.stringify(JSON.parse(await (await import('node:fs/promises')).readFile(join(R, 'subj01_imagery_captions_mirage.json'), 'utf8'))), 'c.json');
    const { body } = await importRecons({
      existing: await baseBundle(),
      writer,
      method: 'MIRAGE',
      subject: 1,
      condition: 'imagery',
      input: { kind: 'pt', source: await fileSource(join(R, 'subj01_imagery_all_recons_mirage.pt')) },
      captions,
      source: 'Kneeland et al. 2026',
      command: 'recons',
    });
    const m = await writer.finish(body);
    const set = m.reconstructions![0];
    expect(set.images.shape).toEqual([18, 2, 8, 8, 3]);
    expect(set.stimuli).toEqual(Array.from({ length: 18 }, (_, i) => i));
    expect(set.captions![3][1]).toBe('caption 3 rep 1');
    const shard = files.get(set.images.shard)!;
    expect(Array.from(shard.subarray(set.images.offset, set.images.offset + 24))).toEqual(json('recons/expected.json').first);
  });

  it('reads a tree of PNGs (<stimulus>/<rep>.png), resized to the bundle image size', async () => {
    const dir = tempDir();
    const files: Array<{ stimulus: number; rep: number; source: Awaited<ReturnType<typeof fileSource>> }> = [];
    for (const s of [2, 5])
      for (const r of [0, 1]) {
        mkdirSync(join(dir, String(s)), { recursive: true });
        const px = new Uint8Array(16 * 16 * 3).fill(10 * s + r);
        writeFileSync(join(dir, String(s), `${r}.png`), encodePng(px, 16, 16, 3));
        files.push({ stimulus: s, rep: r, source: await fileSource(join(dir, String(s), `${r}.png`)) });
      }
    const { writer, files: out } = memoryWriter();
    const { body } = await importRecons({ existing: await baseBundle(), writer, method: 'pngs', subject: 1, condition: 'vision', input: { kind: 'pngs', files }, source: 's', command: 'c' });
    const m = await writer.finish(body);
    const set = m.reconstructions![0];
    expect(set.stimuli).toEqual([2, 5]);
    expect(set.images.shape).toEqual([2, 2, 8, 8, 3]);
    const shard = out.get(set.images.shard)!;
    const img = (i: number) => shard[set.images.offset + i * 8 * 8 * 3];
    expect([img(0), img(1), img(2), img(3)]).toEqual([20, 21, 50, 51]);
  });

  it('refuses a .pt that does not hold one (N, reps, 3, H, W) tensor, naming the file', async () => {
    const { writer } = memoryWriter();
    await expect(
      importRecons({ existing: await baseBundle(), writer, method: 'x', subject: 1, condition: 'vision', input: { kind: 'pt', source: await fileSource(join(FIX, 'torch', 'mixed.pt')) }, source: 's', command: 'c' }),
    ).rejects.toThrow(/mixed\.pt: data\.pkl: expected one tensor of shape \(N, reps, 3, H, W\)/);
  });
});
