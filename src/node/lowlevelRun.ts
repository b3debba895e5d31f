// `mirage lowlevel`'s work in Node: the latents .npy (read before the pack loads), the pack's VDVAE
// decoder (src/core/generate/packers/lowlevel.ts), PNGs or the px .npy written atomically.
// cli/commands/lowlevel.ts declares the flags; tests call runLowLevel directly.
import { BundleError } from '../core/base/errors.ts';
import { decodeLowLevelFile } from '../core/generate/packers/lowlevel.ts';
import { loadPackStage } from '../core/generate/packers/stagePack.ts';
import { readNpy, writeNpy } from '../core/tensor/npy.ts';
import { encodePng } from '../core/tensor/png.ts';
import { writeFileAtomically } from './atomic.ts';
import { readRegularFile } from './files.ts';
import { FsShardSource } from './fsSource.ts';

export interface LowLevelOptions {
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
