// `mirage caption`'s work in Node: the features .npy (read before the pack loads), the pack's GiT
// caption decoder and vocabulary (src/core/generate/packers/gitCaption.ts), the captions written
// atomically to --out. cli/commands/caption.ts declares the flags; tests call runCaption directly.
import { BundleError } from '../core/base/errors.ts';
import { captionFeatures, loadCaptionVocab, type CaptionRow } from '../core/generate/packers/gitCaption.ts';
import { loadPackStage } from '../core/generate/packers/stagePack.ts';
import { readNpy } from '../core/tensor/npy.ts';
import { writeFileAtomically } from './atomic.ts';
import { readRegularFile } from './files.ts';
import { FsShardSource } from './fsSource.ts';
import { progressBar } from './progress.ts';

export interface CaptionOptions {
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
