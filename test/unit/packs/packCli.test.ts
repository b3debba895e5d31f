// The command-line faces of the packers on files: `mirage pack clip` refuses a checkpoint of another
// size naming the tensor; `mirage features` turns PNGs into the image encoder's outputs, one row per
// image, equal to running the stage on the CLIP-normalised pixels.
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../../../src/core/formats/byteSource.ts';
import { openCheckpoint } from '../../../src/core/generate/packers/checkpoint.ts';
import type { ClipVisionConfig } from '../../../src/core/generate/packers/clip.ts';
import { packClip } from '../../../src/core/generate/packers/clipPack.ts';
import { runStage } from '../../../src/core/generate/packers/runStage.ts';
import { loadPackStage } from '../../../src/core/generate/packers/stagePack.ts';
import { CLIP_MEAN, CLIP_STD } from '../../../src/core/generate/preprocess.ts';
import { readNpy } from '../../../src/core/tensor/npy.ts';
import { encodePng } from '../../../src/core/tensor/png.ts';
import { writeAtomically } from '../../../src/node/atomic.ts';
import { FsShardSource } from '../../../src/node/fsSource.ts';
import { runPackClip, runPackVdvae } from '../../../src/node/packRun.ts';
import { runFeatures } from '../../../src/node/featuresRun.ts';

const FIX = join(import.meta.dirname, '../../fixtures/packs/clip-tiny');
const TINY: ClipVisionConfig = { name: 'tiny', imageSize: 28, patchSize: 14, width: 32, layers: 2, heads: 4, mlp: 128, projectionDim: 16, layerNormEps: 1e-5 };
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pack-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('mirage pack clip', () => {
  it('refuses a checkpoint that is not ViT-L/14, naming the file and the tensor, and writes nothing', async () => {
    await expect(runPackClip({ checkpoint: FIX, out: join(dir, 'p'), maxFileMib: '128', precision: 'both', quiet: true })).rejects.toThrow(
      /clip-tiny\/model\.safetensors: tensor vision_model\.embeddings\.patch_embedding\.weight: the checkpoint is another model \(width 32, 2 layers, patch 14, 28 px, projection 16\) \(expected CLIP ViT-L\/14/,
    );
    await expect(readFile(join(dir, 'p', 'modelpack.json'))).rejects.toThrow(/ENOENT/);
    await expect(runPackClip({ checkpoint: join(FIX, 'nope'), out: join(dir, 'p'), maxFileMib: '128', precision: 'both', quiet: true })).rejects.toThrow(/nope: --checkpoint: cannot read \(ENOENT\)/);
    await expect(runPackClip({ checkpoint: FIX, out: join(dir, 'p'), maxFileMib: '300', precision: 'both', quiet: true })).rejects.toThrow(/--max-file-mib 300 \(expected a number in \(0, 256\]\)/);
    await expect(runPackClip({ checkpoint: FIX, out: join(dir, 'p'), maxFileMib: '128', precision: 'int8', quiet: true })).rejects.toThrow(/--precision int8 \(expected float32, float16 or both\)/);
  });
});

describe('mirage pack vdvae', () => {
  it('refuses a checkpoint of another size, naming the file and the first tensor that differs', async () => {
    const th = join(FIX, '../vdvae-tiny/model-ema.th');
    await expect(runPackVdvae({ checkpoint: th, out: join(dir, 'v'), maxFileMib: '128', temperature: '1' })).rejects.toThrow(
      /vdvae-tiny\/model-ema\.th: tensor decoder\.dec_blocks\.0\.prior\.c1\.weight: shape \[4, 16, 1, 1\] \(expected \[128, 512, 1, 1\] \(VDVAE ImageNet 64x64\)\)/,
    );
    await expect(runPackVdvae({ checkpoint: th, out: join(dir, 'v'), maxFileMib: '128', temperature: '0' })).rejects.toThrow(/--temperature 0 \(expected a positive number/);
  });
});

describe('mirage features --model clip', () => {
  it('writes one row per PNG, equal to the stage run on the CLIP-normalised pixels', async () => {
    const files = { 'model.safetensors': new Uint8Array(await readFile(join(FIX, 'model.safetensors'))) };
    const ck = await openCheckpoint({ label: 'clip-tiny', open: async (p) => (p in files ? bytesSource(files[p as keyof typeof files], p) : null) });
    const packDir = join(dir, 'tiny-pack');
    await writeAtomically(packDir, (sink) => packClip(ck, sink, { config: TINY, maxFileBytes: 100_000 }));
    // Three 28x28 images: already the encoder's size, so preprocessing is only the normalisation.
    const imgs: Uint8Array[] = [];
    await mkdir(join(dir, 'img'));
    for (let k = 0; k < 3; k++) {
      const px = Uint8Array.from({ length: 28 * 28 * 3 }, (_, i) => (i * (7 + k) + k * 31) % 256);
      imgs.push(px);
      await writeFile(join(dir, 'img', `${k}.png`), encodePng(px, 28, 28, 3));
    }
    const out = join(dir, 'feats.npy');
    const r = await runFeatures({ models: packDir, model: 'clip', images: [0, 1, 2].map((k) => join(dir, 'img', `${k}.png`)), output: 'image_embeds', out, batch: '2', quiet: true });
    expect(r.shape).toEqual([3, 16]);
    const got = readNpy(new Uint8Array(await readFile(out)));
    const pv = new Float32Array(3 * 3 * 28 * 28);
    imgs.forEach((px, k) => {
      for (let c = 0; c < 3; c++) for (let i = 0; i < 28 * 28; i++) pv[k * 3 * 784 + c * 784 + i] = (px[i * 3 + c] / 255 - CLIP_MEAN[c]) / CLIP_STD[c];
    });
    const stage = await loadPackStage(new FsShardSource(packDir), 'imageEncoder');
    const want = await runStage(stage, { pixel_values: { dtype: '<f4', shape: [3, 3, 28, 28], data: pv, fortranOrder: false } });
    const a = got.data as Float32Array;
    const b = want.outputs.image_embeds.data as Float32Array;
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 5);
    await expect(runFeatures({ models: packDir, model: 'dino', images: [], output: 'image_embeds', out, batch: '2', quiet: true })).rejects.toThrow(/--model dino \(expected clip, vdvae/);
    await expect(runFeatures({ models: packDir, model: 'clip', images: [join(dir, 'img', '0.png')], output: 'pooled', out, batch: '2', quiet: true })).rejects.toThrow(
      /the image encoder has no output "pooled" \(expected last_hidden_state, image_embeds\)/,
    );
  });
});
