// `mirage validate DIR|URL`: checks a bundle (manifest schema, cross-references, every shard's size
// and sha256, index tensors) and prints every problem on its own line as
// "file: field: message (expected …)". Exit status 1 on any error, 0 (with a summary) when valid.
import type { Command } from 'commander';
import type { Manifest } from '../../src/core/bundle/manifest.ts';
import { validateBundle } from '../../src/core/bundle/validate.ts';
import { bundleSource } from '../../src/node/fsSource.ts';
import { progressBar } from '../../src/node/progress.ts';
import type { CommandContext } from '../context.ts';

const mib = (b: number) => (b < 2 ** 20 ? `${(b / 1024).toFixed(1)} KiB` : `${(b / 2 ** 20).toFixed(1)} MiB`);

function countBy<T>(xs: T[], key: (x: T) => string): string {
  const m = new Map<string, number>();
  for (const x of xs) m.set(key(x), (m.get(key(x)) ?? 0) + 1);
  return [...m].map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
}

export function summarise(m: Manifest): string {
  const lines = [
    `${m.name}: ${m.format} v${m.version}, ${m.provenance.kind.toUpperCase()} data${m.provenance.seed !== undefined ? ` (seed ${m.provenance.seed})` : ''}`,
    `  built by: ${m.provenance.command} (${m.provenance.generator.name} ${m.provenance.generator.version}, ${m.provenance.createdAt})`,
    `  shards: ${m.shards.length}, ${mib(m.shards.reduce((a, s) => a + s.bytes, 0))}`,
    ...m.subjects.map(
      (s) =>
        `  subject ${s.id} (${s.role}): ${s.voxelCount} voxels, ${s.rois.length} ROIs, ${s.surfaces.length} surfaces, heads: ${
          s.heads.map((h) => `${h.name} [${h.outputShape.join('x')}] rank ${h.rank}`).join(', ') || 'none'
        }`,
    ),
    `  stimuli: ${m.stimuli.length} (${countBy(m.stimuli, (s) => s.set)})`,
    `  trials: ${m.trials.length} (${countBy(m.trials, (t) => t.condition)})`,
    `  feature sets: ${m.features.map((f) => `${f.name}/${f.head} (${f.ids.length})`).join(', ') || 'none'}`,
  ];
  return lines.join('\n');
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('validate')
    .description('check a bundle: manifest schema, references, shard sizes and sha256; exit 1 on any error')
    .argument('<bundle>', 'bundle folder (or http(s) URL of it)')
    .option('--sizes', 'check shard sizes only, not their sha256 (fast)')
    .option('-q, --quiet', 'no progress bar')
    .option('--json', 'print the report as JSON ({ ok, errors: [{ file, field, message, expected }], warnings })')
    .action(async (location: string, opts: { sizes?: boolean; quiet?: boolean; json?: boolean }) => {
      const bar = opts.quiet || opts.json ? undefined : progressBar('verifying shards');
      let report;
      try {
        report = await validateBundle(bundleSource(location), {
          verify: opts.sizes ? 'sizes' : 'full',
          signal: ctx.interruptible(),
          onProgress: bar && ((p) => bar.update(p.loadedBytes, p.totalBytes, p.file)),
        });
      } finally {
        bar?.stop();
      }
      if (opts.json) {
        const errors = report.errors.map((e) => ({
          file: e.file,
          field: e.field,
          message: e.message,
          expected: e.expected,
        }));
        process.stdout.write(`${JSON.stringify({ ok: report.ok, errors, warnings: report.warnings }, null, 1)}\n`);
        if (!report.ok) process.exitCode = 1;
        return;
      }
      for (const w of report.warnings) process.stderr.write(`warning: ${w}\n`);
      if (!report.ok) {
        for (const e of report.errors) process.stdout.write(`${e.message}\n`);
        process.stdout.write(
          `${location}: INVALID, ${report.errors.length} error${report.errors.length === 1 ? '' : 's'}\n`,
        );
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`${summarise(report.manifest!)}\n`);
      process.stdout.write(
        `${location}: valid (${opts.sizes ? 'sizes checked, sha256 not' : 'every shard sha256 verified'})\n`,
      );
    });
}
