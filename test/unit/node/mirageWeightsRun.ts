// `import mirage-weights` on the fixture weights, for the tests that interrupt and resume it
// (node/importResume.test.ts, hostile/importCache.test.ts): subject 1 of the fixture NSD tree is
// imported into <dir>/base first, then `run(overrides)` writes <dir>/out from it with the js gemm.
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { importNsdImagery } from '../../../src/core/importers/nsdImagery.ts';
import { fileSource, fsTree } from '../../../src/node/files.ts';
import { discoverHeads, runImport, runMirageWeights, type MirageWeightsRun } from '../../../src/node/importRun.ts';
import { baseProvenance } from '../../../src/node/provenance.ts';

const FIX = resolve(import.meta.dirname, '..', '..', 'fixtures', 'formats');

export async function fixtureMirageWeightsRun(dir: string): Promise<{ out: string; run: (o: Partial<MirageWeightsRun>) => ReturnType<typeof runMirageWeights> }> {
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
  return { out, run };
}

/** Runs to the end: which heads came from the cache (in order), the bundle's head names, and what <dir> then holds. */
export async function finishRun(dir: string, run: (o: Partial<MirageWeightsRun>) => ReturnType<typeof runMirageWeights>): Promise<{ cached: Array<[string, boolean]>; heads: string[]; files: string[] }> {
  const cached: Array<[string, boolean]> = [];
  const m = await run({ onHead: (head, info) => cached.push([head, info.cached]) });
  return { cached, heads: m.subjects[0].heads.map((h) => h.name), files: readdirSync(dir).sort() };
}
