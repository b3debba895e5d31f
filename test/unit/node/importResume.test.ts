// `import mirage-weights` stopped part-way (its signal aborted after the first head, as Ctrl-C does)
// writes no bundle but keeps the finished head in <out>.import-cache/; the next run takes that head
// from the cache, finishes, and removes the cache.
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { finishRun, fixtureMirageWeightsRun } from './mirageWeightsRun.ts';

describe('runMirageWeights', () => {
  it('an interrupted run leaves no bundle, and the next run resumes from the head cache', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mirage-resume-'));
    const { out, run } = await fixtureMirageWeightsRun(dir);

    const controller = new AbortController();
    const first: Array<[string, boolean]> = [];
    await expect(
      run({
        signal: controller.signal,
        onHead: (head, info) => {
          first.push([head, info.cached]);
          controller.abort(); // Ctrl-C after the first head
        },
      }),
    ).rejects.toThrow(/cancelled/);
    expect(first).toEqual([['image', false]]);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['base', 'out.import-cache']);
    expect(readdirSync(join(dir, 'out.import-cache')).filter((n) => !n.endsWith('.bin'))).toEqual([]); // no half-written entry

    expect(await finishRun(dir, run)).toEqual({ cached: [['image', true], ['text', false]], heads: ['image', 'text'], files: ['base', 'out'] });
  }, 120_000);
});
