// The command-line faces of the GiT pack on files: `mirage pack git` refuses a checkpoint of
// another size naming the tensor; `mirage caption` turns a features .npy into the reference's greedy
// captions; `mirage features --model git` gives GiT's 257-token features (here 5) of PNG files, and
// `--model clip` refuses GiT's tower.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../../src/core/generate/packers/checkpoint.ts';
import { clipPixelValues } from '../../../src/core/generate/packers/features.ts';
import type { GitConfig } from '../../../src/core/generate/packers/git.ts';
import { packGit, readGitVocab } from '../../../src/core/generate/packers/gitPack.ts';
import { runStage } from '../../../src/core/generate/packers/runStage.ts';
import { loadPackStage } from '../../../src/core/generate/packers/stagePack.ts';
import { readNpy } from '../../../src/core/tensor/npy.ts';
import { decodePng, encodePng, pngToRgb } from '../../../src/core/tensor/png.ts';
import { writeAtomically } from '../../../src/node/atomic.ts';
import { fsTree } from '../../../src/node/files.ts';
import { FsShardSource } from '../../../src/node/fsSource.ts';
import { runCaption } from '../../../src/node/captionRun.ts';
import { runFeatures } from '../../../src/node/featuresRun.ts';
import { runPackGit } from '../../../src/node/packRun.ts';

const FIX = join(import.meta.dirname, '../../fixtures/packs/git-tiny');
const TINY: GitConfig = {
  name: 'GiT-tiny',
  vision: { name: 'tiny', imageSize: 28, patchSize: 14, width: 32, layers: 2, heads: 4, mlp: 64, projectionDim: 0, layerNormEps: 1e-5 },
  hidden: 32, layers: 2, heads: 4, intermediate: 64, vocab: 120, maxPositions: 40, layerNormEps: 1e-12, bosTokenId: 101, eosTokenId: 102,
};
let dir: string;
let pack: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'git-cli-'));
  pack = join(dir, 'pack');
  const folder = fsTree(FIX);
  const ck = await openCheckpoint(folder);
  const vocab = await readGitVocab(folder, TINY);
  await writeAtomically(pack, (sink) => packGit(ck, vocab, sink, { config: TINY }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('mirage pack git / caption / features --model git', () => {
  it('pack git refuses a checkpoint that is not GiT-large, naming the file and the tensor, and writes nothing', async () => {
    await expect(runPackGit({ checkpoint: FIX, out: join(dir, 'p'), maxFileMib: '128', precision: 'both', quiet: true })).rejects.toThrow(
      /git-tiny\/model\.safetensors: tensor git\.image_encoder\.vision_model\.embeddings\.patch_embedding\.weight: the checkpoint is another model \(vision width 32, patch 14, 2 vision layers; text width 32, 2 text layers\) \(expected GiT-large/,
    );
    await expect(readFile(join(dir, 'p', 'modelpack.json'))).rejects.toThrow(/ENOENT/);
    await expect(runPackGit({ checkpoint: FIX, out: join(dir, 'p'), maxFileMib: '128', precision: 'half', quiet: true })).rejects.toThrow(/--precision half \(expected float32, float16 or both\)/);
  });

  it('caption: one greedy caption per row (the reference ids), printed and written as .json and .txt', async () => {
    const ids = readNpy(await readFile(join(FIX, 'ref_greedy_ids.npy')), 'ids');
    const ref = [0, 1].map((r) => Array.from(ids.data.slice(r * 21, (r + 1) * 21), Number).filter((x) => x >= 0 && x !== 101 && x !== 102));
    const json = join(dir, 'caps.json');
    const rows = await runCaption({ models: pack, features: join(FIX, 'ref_features.npy'), maxTokens: '20', out: json, quiet: true });
    expect(rows.map((r) => r.tokens)).toEqual(ref);
    const written = JSON.parse(await readFile(json, 'utf8')) as { row: number; tokens: number[]; caption: string }[];
    expect(written.map((r) => [r.row, r.tokens])).toEqual([[0, ref[0]], [1, ref[1]]]);
    expect(written[0].caption).toBe('an group');
    const txt = join(dir, 'caps.txt');
    const short = await runCaption({ models: pack, features: join(FIX, 'ref_features.npy'), maxTokens: '3', out: txt, quiet: true });
    expect(short[1].tokens).toEqual(ref[1].slice(0, 3));
    expect((await readFile(txt, 'utf8')).split('\n')).toEqual([written[0].caption, short[1].caption, '']);
  });

  it('caption refuses features of another shape, naming the file', async () => {
    const bad = join(dir, 'bad.npy');
    await writeFile(bad, await readFile(join(FIX, 'pixel_values.npy')));
    await expect(runCaption({ models: pack, features: bad, maxTokens: '20', quiet: true })).rejects.toThrow(/bad\.npy: header\.shape: shape \[2, 3, 28, 28\] \(expected \[N, 5, 32\]/);
    await expect(runCaption({ models: pack, features: bad, maxTokens: '0', quiet: true })).rejects.toThrow(/--max-tokens 0/);
  });

  it('features --model git: GiT image features of PNGs, one row per image; --model clip refuses the GiT tower', async () => {
    const pngs: string[] = [];
    for (let k = 0; k < 2; k++) {
      const w = 40 + 8 * k;
      const px = Uint8Array.from({ length: w * 32 * 3 }, (_, i) => (i * (37 + k) + 11) % 256);
      pngs.push(join(dir, `img${k}.png`));
      await writeFile(pngs[k], encodePng(px, w, 32, 3));
    }
    const out = join(dir, 'git.npy');
    const r = await runFeatures({ models: pack, model: 'git', images: pngs, output: 'image_embeds', out, batch: '1', quiet: true });
    expect(r.shape).toEqual([2, 5, 32]);
    // Equal to the stage run on the CLIP-preprocessed pixels of both images in one batch.
    const stage = await loadPackStage(new FsShardSource(pack), 'imageEncoder');
    const data = new Float32Array(2 * 3 * 28 * 28);
    for (let k = 0; k < 2; k++) {
      const d = decodePng(new Uint8Array(await readFile(pngs[k])), pngs[k]);
      data.set(clipPixelValues(stage, { width: d.width, height: d.height, data: pngToRgb(d) }), k * 3 * 28 * 28);
    }
    const direct = await runStage(stage, { pixel_values: { dtype: '<f4', shape: [2, 3, 28, 28], data, fortranOrder: false } });
    const got = readNpy(await readFile(out), out).data as Float32Array;
    const want = direct.outputs.last_hidden_state.data as Float32Array;
    let m = 0;
    for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]));
    expect(m).toBeLessThan(1e-5);
    await expect(runFeatures({ models: pack, model: 'clip', images: pngs, output: 'last_hidden_state', out, batch: '1', quiet: true })).rejects.toThrow(/the image encoder is GiT's, not CLIP's/);
  });
});
