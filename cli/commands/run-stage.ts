// `mirage run-stage`: one stage of a model pack or stage pack on plain .npy arrays (issue 15 item 4),
// so a pack can be checked against PyTorch from Python: save each input as <role>.npy, run, load
// <role>.npy of each output. The logic is src/core/generate/packers/runStage.ts.
import type { Command } from 'commander';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BundleError } from '../../src/core/base/errors.ts';
import { loadPackStage } from '../../src/core/generate/packers/stagePack.ts';
import { runStage } from '../../src/core/generate/packers/runStage.ts';
import { readNpy, writeNpy, type NpyArray } from '../../src/core/tensor/npy.ts';
import { writeFileAtomically } from '../../src/node/atomic.ts';
import { readRegularFile } from '../../src/node/files.ts';
import { FsShardSource } from '../../src/node/fsSource.ts';

interface RunStageOptions {
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

export function register(program: Command): void {
  program
    .command('run-stage')
    .description('run one stage of a model pack on .npy arrays named by input role; writes <output role>.npy (wasm)')
    .requiredOption('--models <dir>', 'model pack or stage pack folder (holds modelpack.json)')
    .requiredOption('--stage <name>', 'stage name, e.g. imageEncoder, lowLevelDecoder, priorDenoiser')
    .requiredOption('--inputs <dir>', 'folder with one <role>.npy per input role of the stage')
    .requiredOption('--out <dir>', 'folder for the outputs, one <role>.npy per output role')
    .option('--variant <name>', "another build of the stage the pack holds, e.g. float16 (the stage's variants)")
    .action(async (opts: RunStageOptions) => {
      const r = await runStageCommand(opts);
      for (const [role, o] of Object.entries(r.outputs)) process.stderr.write(`run-stage ${r.stage}: ${role} [${o.shape.join(', ')}] -> ${o.file}\n`);
    });
}
