// The side-by-side picture of docs/simulation.md (docs/img/demo-reconstructions.png) and the bar
// measurement of §4.1, from a `mirage eval --models` run on the demo bundle:
//   npx tsx scripts/simulation-figure.ts --bundle DIR --recons EVAL_OUT/recons/'MIRAGE pipeline' \
//     [--subject 1] [--rep 0] [--out docs/img/demo-reconstructions.png]
// Rows: the 12 stimuli with an image; the chosen vision reconstruction; the chosen imagery
// reconstruction (one subject, one repetition). Printed: for every vision/imagery reconstruction of
// the four bars in the folder, whether its dominant edge orientation (the simulation's oriented
// energy, summed over the image) is the bar's (4-way, chance 25%).
import { parseArgs } from 'node:util';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Bundle } from '../src/core/bundle/loader.ts';
import { FsShardSource } from '../src/node/fsSource.ts';
import { decodePng, encodePng, pngToRgb } from '../src/core/tensor/png.ts';
import { fromUint8, toUint8 } from '../src/core/evaluate/image.ts';
import { resizeBilinear } from '../src/core/evaluate/resize.ts';
import { dominantOrientation, highFrequencyEnergy } from '../src/core/simulate/imageStats.ts';
import { IMAGE_SIZE } from '../src/core/simulate/dims.ts';

const { values: o } = parseArgs({
  options: {
    bundle: { type: 'string' }, recons: { type: 'string' }, subject: { type: 'string', default: '1' }, rep: { type: 'string', default: '0' },
    out: { type: 'string', default: 'docs/img/demo-reconstructions.png' },
  },
});
if (!o.bundle || !o.recons) throw new Error('usage: --bundle DIR --recons DIR [--subject N] [--rep N] [--out FILE.png]');
const S = IMAGE_SIZE;
const bundle = await Bundle.open(new FsShardSource(o.bundle), { verify: 'sizes' });
const stimuli = bundle.manifest.stimuli.filter((s) => s.image);
const truth = new Map<number, Uint8Array>();
for (const s of stimuli) truth.set(s.id, (await bundle.tensor(s.image!)) as Uint8Array);

async function readRecon(name: string): Promise<Uint8Array | null> {
  try {
    const png = decodePng(new Uint8Array(await readFile(join(o.recons!, name))), name);
    const rgb = pngToRgb(png);
    if (png.width === S && png.height === S) return rgb;
    return toUint8(resizeBilinear(fromUint8(rgb, png.width, png.height, 3), S, S, { antialias: true }));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

// Picture: 3 rows x 12 columns, 2-px white gaps.
const gap = 2;
const W = stimuli.length * (S + gap) - gap;
const H = 3 * (S + gap) - gap;
const canvas = new Uint8Array(W * H * 3).fill(255);
const blit = (img: Uint8Array, col: number, row: number) => {
  for (let y = 0; y < S; y++) canvas.set(img.subarray(y * S * 3, (y + 1) * S * 3), ((row * (S + gap) + y) * W + col * (S + gap)) * 3);
};
const hf: Record<string, number[]> = { vision: [], imagery: [] };
for (const [col, s] of stimuli.entries()) {
  blit(truth.get(s.id)!, col, 0);
  for (const [row, cond] of (['vision', 'imagery'] as const).entries()) {
    const r = await readRecon(`${o.subject}_${cond}_${s.id}_${o.rep}.png`);
    if (r) {
      blit(r, col, row + 1);
      hf[cond].push(highFrequencyEnergy(r) / highFrequencyEnergy(truth.get(s.id)!));
    }
  }
}
await writeFile(o.out!, encodePng(canvas, W, H, 3));
const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / Math.max(1, a.length);
console.log(`wrote ${o.out} (${W}x${H}): rows stimuli / vision / imagery, subject ${o.subject}, repetition ${o.rep}`);
console.log(`high-frequency energy, reconstruction / stimulus (this subject): vision ${mean(hf.vision).toFixed(2)}, imagery ${mean(hf.imagery).toFixed(2)}`);

// Bars: stimuli 0-3; "right" = the reconstruction's dominant orientation is the bar stimulus's own.
const files = (await readdir(o.recons)).filter((f) => /^\d+_(vision|imagery)_[0-3]_\d+\.png$/.test(f));
for (const cond of ['vision', 'imagery']) {
  let right = 0;
  let n = 0;
  for (const f of files.filter((x) => x.includes(`_${cond}_`))) {
    const stim = Number(f.split('_')[2]);
    if (dominantOrientation((await readRecon(f))!) === dominantOrientation(truth.get(stim)!)) right++;
    n++;
  }
  console.log(`bars, ${cond}: dominant orientation right in ${right}/${n} reconstructions (chance ${n / 4})`);
}
