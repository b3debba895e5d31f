// `mirage features`: a pack's image encoder on PNG files, written as one .npy (rows in the order
// the images were given), e.g. MIRAGE's CLIP targets of new images. Logic: src/core/generate/packers/features.ts.
import type { Command } from 'commander';
import { BundleError } from '../../src/core/base/errors.ts';
import { clipFeatures, FEATURE_MODELS, gitFeatures, vdvaeFeatures, type FeatureModel } from '../../src/core/generate/packers/features.ts';
import { loadPackStage } from '../../src/core/generate/packers/stagePack.ts';
import { decodePng, pngToRgb } from '../../src/core/tensor/png.ts';
import { writeNpy } from '../../src/core/tensor/npy.ts';
import { writeFileAtomically } from '../../src/node/atomic.ts';
import { readRegularFile } from '../../src/node/files.ts';
import { FsShardSource } from '../../src/node/fsSource.ts';
import { progressBar } from '../../src/node/progress.ts';

interface FeaturesOptions {
  models: string;
  model: string;
  images: string[];
  output: string;
  out: string;
  batch: string;
  variant?: string;
  seed?: string;
  deterministic?: boolean;
  quiet?: boolean;
}

export async function runFeatures(o: FeaturesOptions): Promise<{ out: string; shape: number[] }> {
  if (!(o.model in FEATURE_MODELS)) throw new BundleError('command line', `--model ${o.model}`, { expected: Object.keys(FEATURE_MODELS).join(', ') });
  const batch = Number(o.batch);
  if (!Number.isInteger(batch) || batch < 1) throw new BundleError('command line', `--batch ${o.batch}`, { expected: 'a positive integer' });
  const seed = Number(o.seed ?? 0);
  if (!Number.isInteger(seed)) throw new BundleError('command line', `--seed ${o.seed}`, { expected: 'an integer' });
  const images = []; // read first: a bad PNG is refused before the pack is loaded
  for (const name of o.images) {
    const bytes = await readRegularFile(name, { expected: 'a PNG file' });
    const png = decodePng(bytes, name);
    images.push({ name, image: { width: png.width, height: png.height, data: pngToRgb(png) } });
  }
  const stage = await loadPackStage(new FsShardSource(o.models), FEATURE_MODELS[o.model as FeatureModel], { variant: o.variant });
  const bar = o.quiet ? undefined : progressBar('features');
  try {
    const r =
      o.model === 'vdvae'
        ? await vdvaeFeatures(stage, images, { batch, seed, deterministic: o.deterministic, onProgress: bar?.update })
        : o.model === 'git'
          ? await gitFeatures(stage, images, { batch, onProgress: bar?.update })
          : await clipFeatures(stage, images, o.output, { batch, onProgress: bar?.update });
    await writeFileAtomically(o.out, writeNpy(r.data, r.dims, '<f4'));
    return { out: o.out, shape: r.dims };
  } finally {
    bar?.stop();
  }
}

export function register(program: Command): void {
  program
    .command('features')
    .description("a pack's image encoder on PNG files -> one .npy, one row per image (wasm)")
    .requiredOption('--models <dir>', 'model pack or stage pack folder (e.g. from `mirage pack clip`)')
    .requiredOption('--model <name>', `which model: ${Object.keys(FEATURE_MODELS).join(', ')}`)
    .requiredOption('--images <png...>', 'PNG files')
    .option('--output <role>', 'CLIP output role: image_embeds (CLIP embedding) or last_hidden_state (tokens); GiT always gives its 257 x 1024 features', 'image_embeds')
    .option('--seed <k>', 'VDVAE: seed of the posterior noise (image k uses seed + k)', '0')
    .option('--deterministic', 'VDVAE: the posterior means instead of posterior samples')
    .option('--batch <n>', 'images per run', '8')
    .option('--variant <name>', 'another build of the stage, e.g. float16')
    .requiredOption('--out <file.npy>', 'output .npy (float32)')
    .option('--quiet', 'no progress bar')
    .action(async (opts: FeaturesOptions) => {
      const r = await runFeatures(opts);
      process.stderr.write(`features: ${r.out} [${r.shape.join(', ')}]\n`);
    });
}
