// `import mirage-weights` stopped part-way (its signal aborted after the first head, as Ctrl-C does)
// writes no bundle but keeps the finished head in <out>.import-cache/; the next run takes that head
// from the cache, finishes, and removes the cache.
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importNsdImagery } from '../../../src/core/importers/nsdImagery.ts';
import { fileSource, fsTree } from '../../../src/node/files.ts';
import { discoverHeads, runImport, runMirageWeights, type MirageWeightsRun } from '../../../src/node/importRun.ts';
import { baseProvenance } from '../../../src/node/provenance.ts';

const FIX = resolve(import.meta.dirname, '..', '..', 'fixtures', 'formats');

describe('runMirageWeights', () => {
  it('an interrupted run leaves no bundle, and the next run resumes from the head cache', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mirage-resume-'));
    const base = join(dir, 'base');
    await runImport({ out: base, quiet: true, build: (writer) => importNsdImagery({ tree: fsTree(join(FIX, 'nsd')), subject: 1, writer, provenance: baseProvenance('test', 'fixture') }) });
    const heads = await discoverHeads(join(FIX, 'weights', 'subj01'), []);
    const out = join(dir, 'out');
    const run = (o: Partial<MirageWeightsRun>) =>
      runMirageWeights({
        subject: 1,
        rank: 3,
        out,
        into: base,
        gemm: 'js',
        quiet: true,
        command: 'test',
        files: async () => Promise.all(heads.map(async (h) => ({ head: h.head, pickle: await fileSource(h.pickle) }))),
        ...o,
      });

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

    const second: Array<[string, boolean]> = [];
    const m = await run({ onHead: (head, info) => second.push([head, info.cached]) });
    expect(second).toEqual([['image', true], ['text', false]]);
    expect(m.subjects[0].heads.map((h) => h.name)).toEqual(['image', 'text']);
    expect(readdirSync(dir).sort()).toEqual(['base', 'out']);
  }, 120_000);
});
