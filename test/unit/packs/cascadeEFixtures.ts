// Shared by the stage A / EfficientNet / stage B tests: a fixture folder's checkpoint, a built graph
// run on the wasm backend, a stage builder's parts.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesSource } from '../../../src/core/formats/byteSource.ts';
import { openCheckpoint, type Checkpoint } from '../../../src/core/generate/packers/checkpoint.ts';
import { EFFNET_V2_S, type EffnetConfig } from '../../../src/core/generate/packers/cascade/effnet.ts';
import type { StagePartGraph } from '../../../src/core/generate/packers/cascade/pack.ts';
import { STAGE_A, type StageAConfig } from '../../../src/core/generate/packers/cascade/stageA.ts';
import { STAGE_B_FULL, type StageBConfig } from '../../../src/core/generate/packers/cascade/stageB.ts';
import type { GraphBuilder } from '../../../src/core/onnx/builder.ts';
import { createSession, ort } from '../../../src/core/onnx/runtime.ts';
import { readNpy, type NpyArray } from '../../../src/core/tensor/npy.ts';

export const fixtureDir = (name: string): string => join(import.meta.dirname, '../../fixtures/packs', name);

export async function fixtureNpy(dir: string, file: string): Promise<NpyArray> {
  return readNpy(new Uint8Array(await readFile(join(dir, file))), file);
}

/** The checkpoint in one file of a fixture folder, opened as the packer opens the real ones. */
export async function fixtureCheckpoint(dir: string, file: string): Promise<Checkpoint> {
  const bytes = new Uint8Array(await readFile(join(dir, file)));
  return openCheckpoint({ label: dir, open: async (p) => (p === file ? bytesSource(bytes, p) : null) }, { file });
}

/** A checkpoint with only names and shapes (for checks that must refuse before reading a value). */
export function shapesOnly(shapes: Map<string, number[]>, file = 'model.safetensors'): Checkpoint {
  return {
    label: file,
    files: [file],
    tensors: new Map([...shapes].map(([name, shape]) => [name, { name, shape, dtype: 'F32', file }])),
    read: () => Promise.reject(new Error('not read')),
  };
}

/** Runs a graph's float32 inputs on the wasm backend; returns every output. */
export async function runGraph(g: GraphBuilder, inputs: Record<string, NpyArray>): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>> {
  const s = await createSession(g.toBytes());
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(inputs)) feeds[k] = new ort.Tensor('float32', v.data as Float32Array, v.shape);
    const res = await s.run(feeds);
    return Object.fromEntries(Object.entries(res).map(([k, t]) => [k, { data: t.data as Float32Array, dims: t.dims }]));
  } finally {
    await s.release();
  }
}

// One copy of the array comparisons for the tests (test/unit/cortex/helpers.ts).
export { maxAbs, maxAbsDiff } from '../cortex/helpers.ts';

/** The parts a stage builder yields (pack.ts StageBuilder). */
export async function collectParts(gen: AsyncGenerator<StagePartGraph>): Promise<StagePartGraph[]> {
  const parts: StagePartGraph[] = [];
  for await (const p of gen) parts.push(p);
  return parts;
}

// The reduced configs of the fixtures (test/fixtures/packs/README.md), one definition each, used by
// the stage tests and the pack command's test.
/** cascade-a-tiny: two levels, two bottleneck blocks, 16 channels. */
export const TINY_A: StageAConfig = { ...STAGE_A, name: 'tiny stage A', bottleneckBlocks: 2, cHidden: 16, codebookSize: 8, latentSize: 8 };
/**
 * cascade-effnet-tiny: the reduced inverted_residual_setting: two Fused-MBConv stages (ratio 1 and
 * 4), two MBConv stages, a stride-1 and stride-2 mix so residuals appear and disappear.
 */
export const TINY_EFFNET: EffnetConfig = {
  ...EFFNET_V2_S,
  name: 'tiny EfficientNet encoder',
  stages: [
    { block: 'fused', expand: 1, kernel: 3, stride: 1, cin: 8, cout: 8, layers: 2 },
    { block: 'fused', expand: 4, kernel: 3, stride: 2, cin: 8, cout: 16, layers: 2 },
    { block: 'mb', expand: 4, kernel: 3, stride: 2, cin: 16, cout: 24, layers: 2 },
    { block: 'mb', expand: 6, kernel: 3, stride: 1, cin: 24, cout: 32, layers: 1 },
  ],
  lastChannels: 48,
  imageSize: 64,
};
/** cascade-b-tiny, the fixture's StageB(...) arguments: four levels, repeats on both paths (down [1, 2, 1, 1], up deepest first [2, 1, 2, 3]). */
export const TINY_B: StageBConfig = {
  ...STAGE_B_FULL,
  name: 'tiny stage B',
  cCond: 16,
  cHidden: [8, 16, 24, 24],
  nhead: [-1, -1, 2, 2],
  blocks: [
    [1, 1, 2, 1],
    [1, 2, 1, 1],
  ],
  blockRepeat: [
    [1, 2, 1, 1],
    [2, 1, 2, 3],
  ],
  cClip: 12,
  latentSize: 32,
  effnetSize: 6,
};
