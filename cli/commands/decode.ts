// `mirage decode`: decodes every trial of a subject (or each stimulus×condition's averaged repeats)
// with the bundle's reduced-rank heads and writes one .npy per head, rows in the manifest's trial
// order (or in the order of the groups), plus decode.json saying what each row is, which backend
// ran, and which batch MIRAGE's normalisation used.
import type { Command } from 'commander';
import { Bundle } from '../../src/core/bundle/loader.ts';
import { BundleError } from '../../src/core/base/errors.ts';
import { CONDITIONS, HEAD_NAMES, type Condition, type HeadName } from '../../src/core/bundle/manifest.ts';
import { BACKEND_NAMES, createBackend, type BackendName } from '../../src/core/decode/backend.ts';
import { decodeSubject } from '../../src/core/decode/decodeSubject.ts';
import { writeNpy } from '../../src/core/tensor/npy.ts';
import { FsShardSource } from '../../src/node/fsSource.ts';
import { writeAtomically } from '../../src/node/atomic.ts';
import { progressBar } from '../../src/node/progress.ts';
import { nodeWasmPaths } from '../../src/node/wasmPaths.ts';
import type { CommandContext } from '../context.ts';

function list<T extends string>(v: string | undefined, allowed: readonly T[], flag: string): T[] | undefined {
  if (!v) return undefined;
  const xs = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const x of xs) if (!(allowed as readonly string[]).includes(x)) throw new BundleError('command line', `${flag} ${x}`, { expected: allowed.join(', ') });
  return xs as T[];
}

export interface DecodeCliOptions {
  bundle: string;
  subject: string;
  heads?: string;
  conditions?: string;
  average?: boolean;
  normalize?: boolean;
  backend: string;
  out: string;
  quiet?: boolean;
}

export async function runDecode(o: DecodeCliOptions, signal?: AbortSignal): Promise<void> {
  const subject = Number(o.subject);
  if (!Number.isInteger(subject) || subject < 1) throw new BundleError('command line', `--subject ${o.subject}`, { expected: 'a subject id such as 1' });
  const order = list<BackendName>(o.backend, BACKEND_NAMES, '--backend')!;
  const heads = list<HeadName>(o.heads, HEAD_NAMES, '--heads');
  const conditions = list<Condition>(o.conditions, CONDITIONS, '--conditions');
  const bar = o.quiet ? undefined : progressBar('decode');
  try {
    const bundle = await Bundle.open(new FsShardSource(o.bundle), {
      verify: 'sizes',
      signal,
      onProgress: bar && ((p) => bar.update(p.loadedBytes, p.totalBytes, p.file)),
    });
    const fallbacks: string[] = [];
    const backend = await createBackend(order, {
      wasmPaths: nodeWasmPaths(),
      onFallback: (n, e) => fallbacks.push(`${n}: ${e instanceof Error ? e.message : String(e)}`),
    });
    try {
      const res = await decodeSubject(bundle, backend, {
        subject,
        heads,
        conditions,
        average: o.average,
        normalize: o.normalize,
        signal,
        onProgress: bar && ((d, t, l) => bar.update(d, t, l)),
      });
      await writeAtomically(o.out, async (sink) => {
        const files: Record<string, unknown> = {};
        for (const h of res.heads) {
          const file = `${h.name}.npy`;
          await sink.write(file, writeNpy(h.values, [res.rows.length, ...h.outputShape], '<f4'));
          files[h.name] = { file, shape: [res.rows.length, ...h.outputShape], normalization: h.normalization ?? null };
        }
        const meta = {
          bundle: o.bundle,
          bundleName: bundle.manifest.name,
          provenance: bundle.manifest.provenance.kind,
          subject: res.subject,
          backend: res.backend,
          backendFallbacks: fallbacks,
          averaged: res.averaged,
          normalized: res.normalized,
          normalization: res.normalized
            ? 'MIRAGE: each output dimension z-scored across the batch (population std), then x training-target std + mean; one batch per condition (see heads.*.normalization; a head without training-target mean/std is written raw and its entry says so under "missing")'
            : 'none (raw ridge predictions)',
          heads: files,
          rows: res.rows,
        };
        await sink.write('decode.json', new TextEncoder().encode(JSON.stringify(meta, null, 1)));
      }, { signal });
      // The one rule for missing statistics (src/core/decode/decodeCondition.ts): raw, and said.
      for (const h of res.heads) for (const n of h.normalization ?? []) if ('missing' in n) process.stderr.write(`decode: ${n.condition}: ${n.missing}\n`);
      process.stdout.write(
        `decoded subject ${res.subject}: ${res.rows.length} ${res.averaged ? 'stimulus x condition averages' : 'trials'}, heads ${res.heads
          .map((h) => h.name)
          .join(', ')}, backend ${res.backend}${res.normalized ? ', MIRAGE-normalised per condition' : ''} -> ${o.out}\n`,
      );
    } finally {
      backend.dispose();
    }
  } finally {
    bar?.stop();
  }
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('decode')
    .description("decode a subject's trials with the bundle's heads; one .npy per head + decode.json")
    .requiredOption('--bundle <dir>', 'bundle folder')
    .requiredOption('--subject <n>', 'subject id')
    .option('--heads <list>', `heads to run (default all): ${HEAD_NAMES.join(',')}`)
    .option('--conditions <list>', `conditions to keep (default all): ${CONDITIONS.join(',')}`)
    .option('--average', "average each stimulus x condition's repeats (betas) before decoding")
    .option('--normalize', "MIRAGE's normalisation: z-score across the batch (each condition), rescale to training targets")
    .option('--backend <list>', 'backends to try in order', 'wasm,cpu,js')
    .option('-q, --quiet', 'no progress bar')
    .requiredOption('--out <dir>', 'output folder (written atomically)')
    .action((o: DecodeCliOptions) => runDecode(o, ctx.interruptible()));
}
