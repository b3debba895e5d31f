// `mirage lowlevel`: a pack's low-level decoder (VDVAE) on decoded latents (N x 91168 .npy, MIRAGE's
// flattened order of the 31 layers), written as PNG (one per row) or as the raw px .npy.
// Logic: src/core/generate/packers/lowlevel.ts.
import type { Command } from 'commander';
import { BundleError } from '../../src/core/base/errors.ts';
import { decodeLowLevelFile } from '../../src/core/generate/packers/lowlevel.ts';
import { loadPackStage } from '../../src/core/generate/packers/stagePack.ts';
import { readNpy, writeNpy } from '../../src/core/tensor/npy.ts';
import { encodePng } from '../../src/core/tensor/png.ts';
import { writeFileAtomically } from '../../src/node/atomic.ts';
import { readRegularFile } from '../../src/node/files.ts';
import { FsShardSource } from '../../src/node/fsSource.ts';

interface LowLevelOptions {
  models: string;
  latents: string;
  out: string;
  seed: string;
  deterministic?: boolean;
}

export async function runLowLevel(o: LowLevelOptions): Promise<{ files: string[]; dims: number[] }> {
  const seed = Number(o.seed);
  if (!Number.isInteger(seed)) throw new BundleError('command line', `--seed ${o.seed}`, { expected: 'an integer' });
  // the input first: a bad --latents is refused before the pack is loaded
  const bytes = await readRegularFile(o.latents, { field: '--latents', expected: 'an N x 91168 .npy' });
  const stage = await loadPackStage(new FsShardSource(o.models), 'lowLevelDecoder');
  const r = await decodeLowLevelFile(stage, readNpy(bytes, o.latents), { seed, deterministic: o.deterministic, file: o.latents });
  if (/\.npy$/i.test(o.out)) {
    await writeFileAtomically(o.out, writeNpy(r.px, r.dims, '<f4'));
    return { files: [o.out], dims: r.dims };
  }
  if (!/\.png$/i.test(o.out)) throw new BundleError('command line', `--out ${o.out}`, { expected: 'a .png (one file per row: <name>-<k>.png when there are several) or a .npy' });
  const files = r.images.map((_, k) => (r.images.length === 1 ? o.out : o.out.replace(/\.png$/i, `-${k}.png`)));
  for (const [k, img] of r.images.entries()) await writeFileAtomically(files[k], encodePng(img.data, img.width, img.height, 3));
  return { files, dims: r.dims };
}

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
