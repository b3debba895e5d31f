// `mirage demo --out DIR [--seed N] [--voxels N]`: builds the SIMULATED demo bundle (docs/simulation.md).
import type { Command } from 'commander';
import { buildDemo } from '../../src/core/simulate/buildDemo.ts';
import { DEFAULT_TRAIN_IMAGES, DEFAULT_VOXELS } from '../../src/core/simulate/dims.ts';
import { writeAtomically } from '../../src/node/atomic.ts';
import { progressBar } from '../../src/node/progress.ts';
import type { CommandContext } from '../context.ts';

function int(name: string, min: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} expects an integer >= ${min}, got "${v}"`);
    return n;
  };
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('demo')
    .description('build the simulated NSD-Imagery demo bundle (deterministic for a seed)')
    .requiredOption('--out <dir>', 'output bundle folder (replaced atomically)')
    .option('--seed <n>', 'random seed', int('seed', 0), 1)
    .option('--voxels <n>', `voxels per subject (default ${DEFAULT_VOXELS}; 15724 = NSD subject 1)`, int('voxels', 50), DEFAULT_VOXELS)
    .option('--train-images <n>', `training images / trials per subject (default ${DEFAULT_TRAIN_IMAGES})`, int('train-images', 50), DEFAULT_TRAIN_IMAGES)
    .action(async (opts: { out: string; seed: number; voxels: number; trainImages: number }) => {
      const bar = progressBar('demo');
      const t0 = performance.now();
      try {
        const command = `mirage demo --out ${opts.out} --seed ${opts.seed} --voxels ${opts.voxels}${opts.trainImages !== DEFAULT_TRAIN_IMAGES ? ` --train-images ${opts.trainImages}` : ''}`;
        const manifest = await writeAtomically(opts.out, (sink) =>
          buildDemo(sink, { seed: opts.seed, voxels: opts.voxels, trainImages: opts.trainImages, command, signal: ctx.interruptible(), onProgress: bar.update }),
          { signal: ctx.interruptible() },
        );
        bar.stop();
        const bytes = manifest.shards.reduce((a, s) => a + s.bytes, 0);
        process.stderr.write(
          `demo: wrote ${opts.out} (SIMULATED; ${manifest.subjects.length} subjects, ${manifest.trials.length} trials, ${(bytes / 2 ** 20).toFixed(1)} MiB of shards) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
        );
      } finally {
        bar.stop();
      }
    });
}
