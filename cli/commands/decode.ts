// `mirage decode`: decodes every trial of a subject (or each stimulus×condition's averaged repeats)
// with the bundle's reduced-rank heads; one .npy per head plus decode.json (src/node/decodeRun.ts).
// This file parses the flags.
import type { Command } from 'commander';
import { BundleError } from '../../src/core/base/errors.ts';
import { CONDITIONS, HEAD_NAMES, type Condition, type HeadName } from '../../src/core/bundle/manifest.ts';
import { BACKEND_NAMES, type BackendName } from '../../src/core/decode/backend.ts';
import { runDecode } from '../../src/node/decodeRun.ts';
import type { CommandContext } from '../context.ts';

function list<T extends string>(v: string | undefined, allowed: readonly T[], flag: string): T[] | undefined {
  if (!v) return undefined;
  const xs = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const x of xs) if (!(allowed as readonly string[]).includes(x)) throw new BundleError('command line', `${flag} ${x}`, { expected: allowed.join(', ') });
  return xs as T[];
}

interface DecodeFlags {
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
    .action(async (o: DecodeFlags) => {
      const subject = Number(o.subject);
      if (!Number.isInteger(subject) || subject < 1) throw new BundleError('command line', `--subject ${o.subject}`, { expected: 'a subject id such as 1' });
      const line = await runDecode({
        bundle: o.bundle,
        subject,
        heads: list<HeadName>(o.heads, HEAD_NAMES, '--heads'),
        conditions: list<Condition>(o.conditions, CONDITIONS, '--conditions'),
        average: o.average,
        normalize: o.normalize,
        backends: list<BackendName>(o.backend, BACKEND_NAMES, '--backend')!,
        out: o.out,
        quiet: o.quiet,
        // Asked for once the backend has started (see DecodeRun.interruptible).
        interruptible: () => ctx.interruptible(),
      });
      process.stdout.write(line);
    });
}
