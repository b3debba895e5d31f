// `mirage encoding-pack stand-in --out DIR [--subject 1] [--voxels N] [--size 227] [--rois bundle|pack]`:
// writes a stand-in encoding-model pack (GNet's role in brain correlation) at the real shapes, so that
// `mirage eval --encoding DIR` runs end to end without GNet's weights. Not GNet: results made with it
// are labelled stand-in and are not comparable to published numbers.
import type { Command } from 'commander';
import { BundleError } from '../../src/core/base/errors.ts';
import { GNET_INPUT_SIZE, NSD_NSDGENERAL_VOXELS, buildStandInEncodingPack } from '../../src/core/evaluate/encodingPack.ts';
import { writeAtomically } from '../../src/node/atomic.ts';
import type { CommandContext } from '../context.ts';

function positiveInt(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new BundleError(flag, `got "${v}"`, { expected: 'a positive integer' });
  return n;
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('encoding-pack')
    .description('build an encoding-model pack (brain correlation; GNet\'s role)')
    .command('stand-in')
    .description(`a stand-in encoding pack at GNet's shapes ([batch, 3, ${GNET_INPUT_SIZE}, ${GNET_INPUT_SIZE}] -> [batch, voxels]); NOT GNet`)
    .requiredOption('--out <dir>', 'pack folder to write (encodingpack.json + encoder.onnx)')
    .option('--subject <n>', 'NSD subject the pack predicts', '1')
    .option('--voxels <n>', `voxel count (default the subject's nsdgeneral count: ${NSD_NSDGENERAL_VOXELS.join(', ')})`)
    .option('--size <n>', 'input side in pixels', String(GNET_INPUT_SIZE))
    .option('--rois <source>', 'bundle (use the bundle subject\'s ROIs) or pack (write a per-voxel ROI file)', 'bundle')
    .option('--seed <n>', 'weights seed', '1')
    .action(async (o: { out: string; subject: string; voxels?: string; size: string; rois: string; seed: string }) => {
      if (o.rois !== 'bundle' && o.rois !== 'pack') throw new BundleError('--rois', `got "${o.rois}"`, { expected: 'bundle or pack' });
      const command = `mirage encoding-pack stand-in --out ${o.out} --subject ${o.subject}${o.voxels ? ` --voxels ${o.voxels}` : ''} --size ${o.size} --rois ${o.rois} --seed ${o.seed}`;
      const m = await writeAtomically(o.out, (sink) =>
        buildStandInEncodingPack(sink, {
          subject: positiveInt('--subject', o.subject),
          voxelCount: positiveInt('--voxels', o.voxels),
          size: positiveInt('--size', o.size),
          seed: positiveInt('--seed', o.seed),
          rois: o.rois as 'bundle' | 'pack',
          command,
        }),
        { signal: ctx.interruptible() },
      );
      process.stderr.write(`wrote ${o.out}: ${m.name}, subject ${m.subject}, ${m.voxelCount} voxels, input ${m.model.input.shape.join('x')} (${m.provenance.kind})\n`);
    });
}
