// `mirage caption`: a pack's caption decoder (GiT's, from `mirage pack git`, or a model pack's) on
// prompt features from a file (N x 257 x 1024 .npy: decoded prompt features, or `mirage features
// --model git` of images), one greedy caption per row: printed, and written to --out when given
// (.json: rows with token ids; otherwise one caption per line). Logic: src/core/generate/packers/gitCaption.ts.
import type { Command } from 'commander';
import { runCaption, type CaptionOptions } from '../../src/node/captionRun.ts';

export function register(program: Command): void {
  program
    .command('caption')
    .description("a pack's caption decoder (GiT) on prompt features -> one greedy caption per row (wasm)")
    .requiredOption('--models <dir>', 'stage pack from `mirage pack git` (or a model pack) with a captionDecoder stage')
    .requiredOption('--features <file.npy>', 'N x 257 x 1024 float .npy: GiT image features or decoded prompt features')
    .option('--max-tokens <n>', 'tokens per caption at most (MIRAGE: 20)', '20')
    .option('--out <file>', '.json (row, token ids, caption) or .txt (one caption per line)')
    .option('--quiet', 'no progress bar')
    .action(async (opts: CaptionOptions) => {
      const rows = await runCaption(opts);
      for (const [k, r] of rows.entries()) process.stdout.write(`${k}\t${r.caption}\n`);
      if (opts.out) process.stderr.write(`caption: ${rows.length} captions -> ${opts.out}\n`);
    });
}
