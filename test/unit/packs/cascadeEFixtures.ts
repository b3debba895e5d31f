// Shared by the stage A / EfficientNet / stage B tests: a fixture folder's checkpoint, a built graph
// run on the wasm backend, a stage builder's parts.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesSource } from '../../../src/core/formats/byteSource.ts';
import { openCheckpoint, type Checkpoint } from '../../../src/core/generate/packers/checkpoint.ts';
import type { StagePartGraph } from '../../../src/core/generate/packers/cascade/pack.ts';
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
