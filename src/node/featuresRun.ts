// `mirage features`'s work in Node: read the PNG files (refused before the pack loads), run the
// pack's image encoder (src/core/generate/packers/features.ts) and write one .npy atomically.
// cli/commands/features.ts declares the flags; tests call runFeatures directly.
import { BundleError } from '../core/base/errors.ts';
import { clipFeatures, FEATURE_MODELS, gitFeatures, vdvaeFeatures, type FeatureModel } from '../core/generate/packers/features.ts';
import { loadPackStage } from '../core/generate/packers/stagePack.ts';
import { decodePng, pngToRgb } from '../core/tensor/png.ts';
import { writeNpy } from '../core/tensor/npy.ts';
import { writeFileAtomically } from './atomic.ts';
import { readRegularFile } from './files.ts';
import { FsShardSource } from './fsSource.ts';
import { progressBar } from './progress.ts';

export interface FeaturesOptions {
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
