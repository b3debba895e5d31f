// `mirage features`: a pack's image encoder on PNG files, written as one .npy (rows in the order
// the images were given), e.g. MIRAGE's CLIP targets of new images. Logic: src/core/generate/packers/features.ts.
import type { Command } from 'commander';
import { FEATURE_MODELS } from '../../src/core/generate/packers/features.ts';
import { runFeatures, type FeaturesOptions } from '../../src/node/featuresRun.ts';

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
