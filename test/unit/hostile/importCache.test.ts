// A FIFO left under a head's name in `import mirage-weights`' cache (<out>.import-cache/<key>.bin):
// the resumed run must take it as a miss and recompute the head, not block forever in a read.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { finishRun, fixtureMirageWeightsRun } from '../node/mirageWeightsRun.ts';

const dir = mkdtempSync(join(tmpdir(), 'mirage-hostile-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('hostile head cache of import mirage-weights', () => {
  it('a FIFO in place of a cached head is a cache miss: the head is recomputed and the bundle written', async () => {
    const { run } = await fixtureMirageWeightsRun(dir);
    const controller = new AbortController();
    await expect(run({ signal: controller.signal, onHead: () => controller.abort() })).rejects.toThrow(/cancelled/);
    const cacheDir = join(dir, 'out.import-cache');
    const cached = readdirSync(cacheDir).filter((n) => n.endsWith('.bin'));
    expect(cached.length).toBe(1);
    unlinkSync(join(cacheDir, cached[0]));
    execFileSync('mkfifo', [join(cacheDir, cached[0])]);

    expect(await finishRun(dir, run)).toEqual({ cached: [['image', false], ['text', false]], heads: ['image', 'text'], files: ['base', 'out'] });
  }, 120_000);
});
