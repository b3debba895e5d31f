// `mirage run-stage`: one stage of a model pack or stage pack on plain .npy arrays (issue 15 item 4),
// so a pack can be checked against PyTorch from Python: save each input as <role>.npy, run, load
// <role>.npy of each output. The logic is src/core/generate/packers/runStage.ts.
import type { Command } from 'commander';
import { runStageCommand, type RunStageOptions } from '../../src/node/runStageFiles.ts';

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
