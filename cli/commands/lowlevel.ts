// `mirage lowlevel`: a pack's low-level decoder (VDVAE) on decoded latents (N x 91168 .npy, MIRAGE's
// flattened order of the 31 layers), written as PNG (one per row) or as the raw px .npy.
// Logic: src/core/generate/packers/lowlevel.ts.
import type { Command } from 'commander';
import { runLowLevel, type LowLevelOptions } from '../../src/node/lowlevelRun.ts';

export function register(program: Command): void {
  program
    .command('lowlevel')
    .description("a pack's low-level decoder (VDVAE) on decoded latents -> 64x64 PNG per row, or the px .npy (wasm)")
    .requiredOption('--models <dir>', 'model pack or stage pack folder with a lowLevelDecoder stage (e.g. from `mirage pack vdvae`)')
    .requiredOption('--latents <file.npy>', 'N x 91168 float .npy: the 31 decoded layers, flattened in layer order')
    .requiredOption('--out <file>', '.png (one per row) or .npy (px, [N, 64, 64, 3] in [-1, 1])')
    .option('--seed <k>', 'seed of the prior noise of the undecoded layers and of the pixel sampling (row k uses seed + k, as the pipeline)', '0')
    .option('--deterministic', 'undecoded layers at their prior means, each pixel the mean of its most likely mixture component')
    .action(async (opts: LowLevelOptions) => {
      const r = await runLowLevel(opts);
      process.stderr.write(`lowlevel: [${r.dims.join(', ')}] -> ${r.files.join(', ')}\n`);
    });
}
