// `mirage run-stage`'s work in Node: a folder of <role>.npy inputs (read before the pack loads), one
// stage of a pack (src/core/generate/packers/runStage.ts), one <role>.npy per output written
// atomically. cli/commands/run-stage.ts declares the flags; tests call runStageCommand directly.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BundleError } from '../core/base/errors.ts';
import { loadPackStage } from '../core/generate/packers/stagePack.ts';
import { runStage } from '../core/generate/packers/runStage.ts';
import { readNpy, writeNpy, type NpyArray } from '../core/tensor/npy.ts';
import { writeFileAtomically } from './atomic.ts';
import { readRegularFile } from './files.ts';
import { FsShardSource } from './fsSource.ts';

export interface RunStageOptions {
  models: string;
  stage: string;
  inputs: string;
  out: string;
  variant?: string;
}

async function readInputs(dir: string): Promise<{ arrays: Record<string, NpyArray>; files: Record<string, string> }> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.npy')).sort();
  } catch (e) {
    throw new BundleError(dir, `cannot read the inputs folder (${(e as NodeJS.ErrnoException).code})`, { expected: 'a folder of <role>.npy files' });
  }
  const arrays: Record<string, NpyArray> = {};
  const files: Record<string, string> = {};
  for (const n of names) {
    const file = join(dir, n);
    const role = n.slice(0, -'.npy'.length);
    arrays[role] = readNpy(await readRegularFile(file, { expected: 'a <role>.npy array' }), file);
    files[role] = file;
  }
  return { arrays, files };
}

export async function runStageCommand(o: RunStageOptions): Promise<{ stage: string; outputs: Record<string, { file: string; shape: number[] }> }> {
  // the inputs first: a bad .npy is refused before the pack is loaded
  const { arrays, files } = await readInputs(o.inputs);
  const stage = await loadPackStage(new FsShardSource(o.models), o.stage, { variant: o.variant });
  const r = await runStage(stage, arrays, { files });
  const outputs: Record<string, { file: string; shape: number[] }> = {};
  for (const [role, t] of Object.entries(r.outputs)) {
    const file = join(o.out, `${role}.npy`);
    await writeFileAtomically(file, writeNpy(t.data, t.dims, t.npyDtype));
    outputs[role] = { file, shape: t.dims };
  }
  return { stage: stage.stage, outputs };
}
