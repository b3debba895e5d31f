// The Node side of `mirage import ...`: the importers of src/core/importers run against an atomic
// output folder, the finished bundle is validated before it is renamed into place, every input file
// is hashed into the provenance, and MIRAGE's weights import caches finished heads on disk so an
// interrupted run resumes. Commands parse flags and call these; benches and tests call them too.
import { readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BundleError } from '../core/base/errors.ts';
import { HEAD_NAMES, type HeadName, type Manifest } from '../core/bundle/manifest.ts';
import { validateBundle } from '../core/bundle/validate.ts';
import { BundleWriter, type ManifestBody } from '../core/bundle/writer.ts';
import { jsGemmKernel, type GemmKernel } from '../core/decode/randomizedSvd.ts';
import { readExistingBundle } from '../core/importers/common.ts';
import { importMirageWeights, MIRAGE_HEADS, type HeadCache, type HeadFiles } from '../core/importers/mirageWeights.ts';
import { ortWasmGemm, tfjsWasmGemm } from '../core/importers/wasmGemm.ts';
import { writeAtomically, writeFileAtomically, type AtomicOptions } from './atomic.ts';
import { fsTree, readRegularFile } from './files.ts';
import { FsShardSource } from './fsSource.ts';
import { progressBar } from './progress.ts';
import { provenanceSources } from './provenance.ts';
import { nodeWasmPaths } from './wasmPaths.ts';

export interface ImportBuildContext {
  /** Adds an on-disk input file to the provenance (hashed when the bundle is finished). */
  onSource: (path: string) => void;
  onProgress: (done: number, total: number, label?: string) => void;
  signal: AbortSignal;
}

export interface ImportRun {
  out: string;
  quiet?: boolean;
  /** Ctrl-C: the import stops at its next check and nothing is written (see src/node/interrupt.ts). */
  signal?: AbortSignal;
  onLeftover?: AtomicOptions['onLeftover'];
  /** Builds the bundle; returns the manifest body (its provenance.sources are filled in here). */
  build: (writer: BundleWriter, ctx: ImportBuildContext) => Promise<{ body: ManifestBody; warnings: string[] }>;
}

/** Writes atomically, validates the finished bundle before it is renamed into place, and reports. */
export async function runImport(run: ImportRun): Promise<Manifest> {
  const bar = run.quiet ? undefined : progressBar('import');
  const sources: string[] = [];
  const signal = run.signal ?? new AbortController().signal;
  try {
    return await writeAtomically(
      run.out,
      async (sink) => {
        const writer = new BundleWriter(sink);
        const { body, warnings } = await run.build(writer, {
          onSource: (p) => sources.push(p),
          onProgress: (d, t, l) => bar?.update(d, t, l),
          signal,
        });
        body.provenance = { ...body.provenance, sources: [...body.provenance.sources.filter((s) => !sources.includes(s.path)), ...(await provenanceSources(sources))] };
        const manifest = await writer.finish(body);
        const report = await validateBundle(new FsShardSource(sink.tmp), { signal });
        if (!report.ok) {
          throw new BundleError(run.out, `the imported bundle does not validate:\n${report.errors.map((e) => `  ${e.message}`).join('\n')}`);
        }
        bar?.stop();
        for (const w of [...warnings, ...report.warnings.filter((w) => !/simulated/.test(w))]) process.stderr.write(`warning: ${w}\n`);
        return manifest;
      },
      { signal, onLeftover: run.onLeftover },
    );
  } finally {
    bar?.stop();
  }
}

export const GEMMS = ['tfjs-wasm', 'ort-wasm', 'js'] as const;
export type GemmName = (typeof GEMMS)[number];

/** The block-product kernel of the randomized SVD, by name (tfjs-wasm measured fastest). */
export async function gemmKernel(name: GemmName): Promise<GemmKernel> {
  if (name === 'tfjs-wasm') return tfjsWasmGemm(nodeWasmPaths());
  if (name === 'ort-wasm') return ortWasmGemm();
  return jsGemmKernel();
}

export interface MirageWeightsRun {
  subject: number;
  rank: number;
  out: string;
  /** Bundle holding the subject (default: out). */
  into?: string;
  penalty?: number;
  powerIterations?: number;
  fidelityTarget?: number;
  fidelityTrials?: number;
  gemm?: GemmName;
  quiet?: boolean;
  signal?: AbortSignal;
  command: string;
  /** The head files; `onSource(path)` adds an on-disk file to the provenance (hashed). */
  files: (onSource: (path: string) => void) => Promise<HeadFiles[]>;
  /** Called with each finished head's timing (the full-scale benchmark records them). */
  onHead?: (head: string, info: { seconds: number; cpuSeconds: number; cached: boolean }) => void;
}

/**
 * `import mirage-weights` after argument parsing: finished heads cached in `<out>.import-cache/`
 * (an interrupted run resumes), the bundle written atomically and validated, the cache removed.
 */
export async function runMirageWeights(o: MirageWeightsRun): Promise<Manifest> {
  const into = o.into ?? o.out;
  const cacheDir = `${resolve(o.out)}.import-cache`;
  const cache: HeadCache = {
    async get(key) {
      try {
        // a FIFO or folder left under a cache name is a miss (readFile would block on a FIFO forever)
        return await readRegularFile(join(cacheDir, `${key}.bin`));
      } catch {
        return null;
      }
    },
    async put(key, bytes) {
      // Atomic, so a head killed mid-write is never read back as finished.
      await writeFileAtomically(join(cacheDir, `${key}.bin`), bytes, { signal: o.signal });
    },
  };
  const kernel = await gemmKernel(o.gemm ?? 'tfjs-wasm');
  const manifest = await runImport({
    out: o.out,
    quiet: o.quiet,
    signal: o.signal,
    build: async (writer, ctx) =>
      importMirageWeights({
        existing: await readExistingBundle(fsTree(into)),
        writer,
        subject: o.subject,
        rank: o.rank,
        heads: await o.files(ctx.onSource),
        penalty: o.penalty,
        powerIterations: o.powerIterations,
        fidelityTarget: o.fidelityTarget,
        fidelityTrials: o.fidelityTrials,
        kernel,
        cache,
        command: o.command,
        onHead: o.onHead,
        onProgress: ctx.onProgress,
        signal: ctx.signal,
      }),
  });
  await rm(cacheDir, { recursive: true, force: true });
  return manifest;
}

export interface FoundHead {
  head: HeadName;
  pickle: string;
  mean?: string;
  std?: string;
}

/** Pickles named after heads in `dir` (plus <head>*mean*.npy / <head>*std*.npy), or explicit name=file pairs. */
export async function discoverHeads(dir: string, explicit: string[]): Promise<FoundHead[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  const word = (h: string) => new RegExp(`(^|[^a-z])${h}([^a-z]|$)`, 'i');
  const out: FoundHead[] = [];
  const given = new Map<string, string>();
  for (const e of explicit) {
    const [h, f] = e.split('=');
    if (!HEAD_NAMES.includes(h as HeadName) || !f) throw new BundleError('command line', `--head ${e}`, { expected: `name=file with name one of ${HEAD_NAMES.join(', ')}` });
    given.set(h, f);
  }
  for (const h of Object.keys(MIRAGE_HEADS) as HeadName[]) {
    let pickle = given.get(h);
    if (!pickle) {
      const hits = names.filter((n) => /\.(pkl3?|pickle)$/i.test(n) && word(h).test(n));
      if (hits.length > 1) throw new BundleError(dir, `several pickles for the ${h} head: ${hits.join(', ')}`, { expected: `one, or --head ${h}=FILE` });
      if (hits.length) pickle = join(dir, hits[0]);
    }
    if (!pickle) continue;
    const mean = names.find((n) => /\.npy$/i.test(n) && word(h).test(n) && /mean/i.test(n));
    const std = names.find((n) => /\.npy$/i.test(n) && word(h).test(n) && /std/i.test(n));
    out.push({ head: h, pickle, mean: mean && join(dir, mean), std: std && join(dir, std) });
  }
  return out;
}
