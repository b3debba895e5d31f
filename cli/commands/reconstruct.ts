// `mirage reconstruct --bundle DIR --models DIR --subject S --stimulus ID --condition vision|imagery
//  [--candidates N --seed K --strength X] --out FILE.png`: MIRAGE's reconstruction of one stimulus
// (repeats averaged, predictions normalised over the condition's stimuli, as MIRAGE does), headless.
// Writes FILE.png (the chosen candidate), FILE.lowlevel.png, FILE.enhanced.png,
// FILE.candidate-<k>.png and FILE.json (scores, chosen index, caption, true caption, settings, timings).
import type { Command } from 'commander';
import { BundleError } from '../../src/core/base/errors.ts';
import type { GenerateSettings } from '../../src/core/generate/pipeline.ts';
import { buildDemoModelPack } from '../../src/core/simulate/demoPack.ts';
import { buildWorld } from '../../src/core/simulate/experiment.ts';
import { DEFAULT_TRAIN_IMAGES } from '../../src/core/simulate/dims.ts';
import { writeAtomically } from '../../src/node/atomic.ts';
import { progressBar } from '../../src/node/progress.ts';
import { reconstructToFiles } from '../../src/node/reconstructFiles.ts';
import type { CommandContext } from '../context.ts';

export interface ReconstructCliOptions {
  bundle: string;
  models: string;
  subject: string;
  stimulus: string;
  condition: string;
  candidates?: string;
  seed?: string;
  strength?: string;
  out: string;
  quiet?: boolean;
}

function numberOpt(v: string | undefined, flag: string, ok: (n: number) => boolean, expected: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || !ok(n)) throw new BundleError('command line', `${flag} ${v}`, { expected });
  return n;
}

/** `mirage reconstruct` after flag parsing (src/node/reconstructFiles.ts does the work). */
export async function runReconstruct(o: ReconstructCliOptions, signal?: AbortSignal): Promise<Record<string, unknown>> {
  const subject = numberOpt(o.subject, '--subject', Number.isInteger, 'a subject id such as 1')!;
  const stimulus = numberOpt(o.stimulus, '--stimulus', (n) => Number.isInteger(n) && n >= 0, 'a stimulus id 0-17')!;
  if (o.condition !== 'vision' && o.condition !== 'imagery') {
    throw new BundleError('command line', `--condition ${o.condition}`, { expected: 'vision or imagery' });
  }
  const settings: Partial<GenerateSettings> = {};
  const candidates = numberOpt(o.candidates, '--candidates', (n) => Number.isInteger(n) && n >= 1, 'a positive integer');
  const seed = numberOpt(o.seed, '--seed', Number.isInteger, 'an integer');
  const strength = numberOpt(o.strength, '--strength', (n) => n > 0 && n <= 1, 'a number in (0, 1]');
  if (candidates !== undefined) settings.candidates = candidates;
  if (seed !== undefined) settings.seed = seed;
  if (strength !== undefined) settings.strength = strength;
  return reconstructToFiles({ bundle: o.bundle, models: o.models, subject, stimulus, condition: o.condition, settings, out: o.out, quiet: o.quiet, signal });
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('reconstruct')
    .description("MIRAGE's reconstruction of one stimulus (decode + model pack), written as PNG + JSON")
    .requiredOption('--bundle <dir>', 'bundle folder')
    .requiredOption('--models <dir>', 'model pack folder (holds modelpack.json)')
    .requiredOption('--subject <n>', 'subject id')
    .requiredOption('--stimulus <id>', 'stimulus id (0-17)')
    .requiredOption('--condition <c>', 'vision or imagery')
    .option('--candidates <n>', 'candidates (default 16)')
    .option('--seed <k>', 'seed (default 0)')
    .option('--strength <x>', 'img2img strength (default 0.70)')
    .requiredOption('--out <file.png>', 'output PNG (siblings: .lowlevel.png, .enhanced.png, .candidate-k.png, .json)')
    .option('--quiet', 'no progress bar')
    .action(async (opts: ReconstructCliOptions) => {
      const meta = await runReconstruct(opts, ctx.interruptible());
      process.stderr.write(`reconstruct: ${meta.files && (meta.files as { chosen: string }).chosen} (candidate ${meta.chosen}, caption "${meta.caption}")\n`);
    });

  // Standalone build of the demo model pack for a demo bundle's seed (the same pack `mirage demo`
  // writes when it calls buildDemoModelPack); useful to rebuild a pack without rebuilding the bundle.
  program
    .command('demo-pack')
    .description('build the SIMULATED demo model pack (docs/simulation.md, "Demo model pack") for a demo seed')
    .requiredOption('--out <dir>', 'output model pack folder (replaced atomically)')
    .option('--seed <n>', 'the demo bundle\'s seed', '1')
    .option('--train-images <n>', 'training images to fit on', '800')
    .option('--world-train-images <n>', "the demo bundle's --train-images (the encoders are centred on them)", String(DEFAULT_TRAIN_IMAGES))
    .action(async (opts: { out: string; seed: string; trainImages: string; worldTrainImages: string }) => {
      const seed = Number(opts.seed);
      const n = Number(opts.trainImages);
      const nWorld = Math.max(n, Number(opts.worldTrainImages));
      if (!Number.isInteger(seed) || !Number.isInteger(n) || n < 50) throw new BundleError('command line', '--seed/--train-images', { expected: 'integers, train images >= 50' });
      const signal = ctx.interruptible();
      const bar = progressBar('demo-pack');
      try {
        const world = await buildWorld(seed, { trainImages: nWorld, onProgress: (d, t, l) => bar.update(d, t, `world: ${l}`) });
        const { report } = await writeAtomically(opts.out, (sink) =>
          buildDemoModelPack(sink, {
            seed,
            encoders: world.graphs,
            training: { scenes: world.trainScenes, images: world.trainImages, features: world.trainFeatures },
            trainImages: n,
            signal,
            onProgress: (d, t, l) => bar.update(d, t, l),
          }),
          { signal },
        );
        bar.stop();
        process.stderr.write(`demo-pack: wrote ${opts.out} (SIMULATED) ${JSON.stringify(report)}\n`);
      } finally {
        bar.stop();
      }
    });
}
