// `mirage caption`: a pack's caption decoder (GiT's, from `mirage pack git`, or a model pack's) on
// prompt features from a file (N x 257 x 1024 .npy: decoded prompt features, or `mirage features
// --model git` of images), one greedy caption per row: printed, and written to --out when given
// (.json: rows with token ids; otherwise one caption per line). Logic: src/core/generate/packers/gitCaption.ts.
import type { Command } from 'commander';
import { BundleError } from '../../src/core/base/errors.ts';
import { captionFeatures, loadCaptionVocab, type CaptionRow } from '../../src/core/generate/packers/gitCaption.ts';
import { loadPackStage } from '../../src/core/generate/packers/stagePack.ts';
import { readNpy } from '../../src/core/tensor/npy.ts';
import { writeFileAtomically } from '../../src/node/atomic.ts';
import { readRegularFile } from '../../src/node/files.ts';
import { FsShardSource } from '../../src/node/fsSource.ts';
import { progressBar } from '../../src/node/progress.ts';

interface CaptionOptions {
  models: string;
  features: string;
  maxTokens: string;
  out?: string;
  quiet?: boolean;
}

export async function runCaption(o: CaptionOptions): Promise<CaptionRow[]> {
  const maxTokens = Number(o.maxTokens);
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new BundleError('command line', `--max-tokens ${o.maxTokens}`, { expected: 'a positive integer (MIRAGE: 20)' });
  if (o.out && !/\.(json|txt)$/i.test(o.out)) throw new BundleError('command line', `--out ${o.out}`, { expected: 'a .json (rows with token ids) or .txt (one caption per line)' });
  // the input first: a bad --features is refused before the pack is loaded
  const features = readNpy(await readRegularFile(o.features, { field: '--features', expected: 'an N x 257 x 1024 .npy' }), o.features);
  const source = new FsShardSource(o.models);
  const stage = await loadPackStage(source, 'captionDecoder');
  const vocab = await loadCaptionVocab(source, stage);
  const bar = o.quiet ? undefined : progressBar('caption');
  try {
    const rows = await captionFeatures(stage, vocab, features, { maxTokens, file: o.features, onProgress: bar ? (d, t) => bar.update(d, t, 'rows') : undefined });
    if (o.out) {
      const text = /\.json$/i.test(o.out) ? JSON.stringify(rows.map((r, row) => ({ row, ...r })), null, 1) : rows.map((r) => r.caption).join('\n') + '\n';
      await writeFileAtomically(o.out, new TextEncoder().encode(text));
    }
    return rows;
  } finally {
    bar?.stop();
  }
}

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
