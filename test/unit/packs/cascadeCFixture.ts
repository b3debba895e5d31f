// The reduced stage C fixture (test/fixtures/packs/cascade-c-tiny/) shared by the stage C tests.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesSource } from '../../../src/core/formats/byteSource.ts';
import { openCheckpoint, type Checkpoint } from '../../../src/core/generate/packers/checkpoint.ts';
import { STAGE_C_FULL, type StageCConfig } from '../../../src/core/generate/packers/cascade/stageC.ts';
import { ort } from '../../../src/core/onnx/runtime.ts';
import { readNpy } from '../../../src/core/tensor/npy.ts';

export const DIR = join(import.meta.dirname, '../../fixtures/packs/cascade-c-tiny');
/** The reduced config the fixture was made with (two levels of different widths). */
export const TINY_C: StageCConfig = {
  ...STAGE_C_FULL,
  name: 'tiny stage C',
  cCond: 16,
  cHidden: [24, 32],
  nhead: [4, 4],
  blocks: [
    [2, 2],
    [3, 1],
  ],
  cClipText: 24,
  cClipTextPooled: 20,
  cClipImg: 16,
  latentSize: 8,
};

export const fixture = async (name: string) => new Uint8Array(await readFile(join(DIR, name)));
export const npy = async (name: string) => readNpy(await fixture(name), name);
export async function checkpoint(file: string): Promise<Checkpoint> {
  const bytes = await fixture(file);
  return openCheckpoint({ label: 'cascade-c-tiny', open: async (p) => (p === file ? bytesSource(bytes, `cascade-c-tiny/${p}`) : null) }, { file });
}
export async function stageCInputs(rFile = 'r.npy'): Promise<Record<string, ort.Tensor>> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const k of ['x', 'r', 'clip_text', 'clip_text_pooled', 'clip_img']) {
    const a = await npy(k === 'r' ? rFile : `${k}.npy`);
    feeds[k] = new ort.Tensor('float32', a.data as Float32Array, a.shape);
  }
  return feeds;
}
