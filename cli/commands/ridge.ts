// `mirage ridge fit`: ridge regression from betas (.npy [trials, voxels]) to targets (.npy
// [trials, outputs]), the same closed form as scikit-learn's Ridge(alpha, fit_intercept=True).
// Writes coef.npy [outputs, voxels] (float64, like sklearn's coef_), intercept.npy, fit.json, and a
// reduced-rank bundle head (head/head.json + head/subj0N/heads/<name>.bin) ready to splice into a
// bundle's manifest. This file parses flags; the fit is src/core/decode/ridgeHead.ts, the files and
// the run src/node/ridgeFiles.ts.
import type { Command } from 'commander';
import { basename } from 'node:path';
import { BundleError } from '../../src/core/base/errors.ts';
import { HEAD_NAMES, type HeadName } from '../../src/core/bundle/manifest.ts';
import type { RidgeHeadFit, RidgeHeadOptions } from '../../src/core/decode/ridgeHead.ts';
import { progressBar } from '../../src/node/progress.ts';
import { describeRidgeFit, runRidgeFit } from '../../src/node/ridgeFiles.ts';
import type { CommandContext } from '../context.ts';

interface FitFlags {
  betas: string;
  targets: string;
  alpha?: string;
  alphas?: string;
  valFrac: string;
  out: string;
  rank: string;
  name: string;
  subject: string;
  outputShape?: string;
  role?: string;
  inputNorm: string;
  outputNorm: string;
}

function parseNumberList(v: string, flag: string): number[] {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (!xs.length || xs.some((x) => !Number.isFinite(x))) throw new BundleError('command line', `${flag} "${v}"`, { expected: 'comma-separated numbers' });
  return xs;
}

/** Flags -> the fit's options; refuses what the fit could only report in its own words. */
function fitOptions(o: FitFlags): Omit<RidgeHeadOptions, 'signal' | 'onProgress'> {
  if (!o.alpha && !o.alphas) throw new BundleError('command line', 'no penalty given', { expected: '--alpha A or --alphas a,b,c' });
  if (!(HEAD_NAMES as readonly string[]).includes(o.name)) throw new BundleError('command line', `--name ${o.name}`, { expected: HEAD_NAMES.join(', ') });
  if (o.inputNorm !== 'none' && o.inputNorm !== 'l2') throw new BundleError('command line', `--input-norm ${o.inputNorm}`, { expected: 'none or l2' });
  if (o.outputNorm !== 'none' && o.outputNorm !== 'l2-token') throw new BundleError('command line', `--output-norm ${o.outputNorm}`, { expected: 'none or l2-token' });
  const valFrac = Number(o.valFrac);
  if (!(valFrac >= 0 && valFrac < 1)) throw new BundleError('command line', `--val-frac ${o.valFrac}`, { expected: 'a number in [0, 1)' });
  const subject = Number(o.subject);
  if (!Number.isInteger(subject) || subject < 1) throw new BundleError('command line', `--subject ${o.subject}`, { expected: 'a positive integer' });
  return {
    betasName: o.betas,
    targetsName: o.targets,
    alpha: o.alpha ? Number(o.alpha) : undefined,
    alphas: o.alphas ? parseNumberList(o.alphas, '--alphas') : undefined,
    valFrac,
    rank: Number(o.rank),
    name: o.name as HeadName,
    subject,
    outputShape: o.outputShape ? parseNumberList(o.outputShape, '--output-shape') : undefined,
    role: o.role ?? `ridge from ${basename(o.betas)} to ${basename(o.targets)}`,
    inputNorm: o.inputNorm,
    outputNorm: o.outputNorm,
  };
}

export function register(program: Command, ctx: CommandContext): void {
  const ridge = program.command('ridge').description('ridge regression decoders (closed form, sklearn Ridge parity)');
  ridge
    .command('fit')
    .description('fit ridge from betas to targets; write coef.npy, intercept.npy and a reduced-rank bundle head')
    .requiredOption('--betas <file>', 'betas .npy [trials, voxels]')
    .requiredOption('--targets <file>', 'targets .npy [trials, outputs]')
    .option('--alpha <a>', 'penalty (sklearn alpha)')
    .option('--alphas <list>', 'penalty grid, e.g. 1e3,1e4,1e5: chosen by mean R² on the held-out tail (--val-frac)')
    .option('--val-frac <f>', 'fraction of trials (the last ones) held out to choose the penalty and measure head fidelity', '0.2')
    .option('--rank <r>', 'rank of the stored head (A [voxels, r] · B [r, outputs], float16)', '64')
    .option('--name <head>', `head name (${HEAD_NAMES.join(', ')})`, 'image')
    .option('--subject <n>', 'subject id the head belongs to (names the shard subj0N/heads/)', '1')
    .option('--output-shape <dims>', 'logical output shape, e.g. 77,1280 (default: [outputs])')
    .option('--role <text>', 'what the head predicts, for the manifest')
    .option('--input-norm <none|l2>', "'l2': L2-normalise each trial's betas before fitting and predicting", 'none')
    .option('--output-norm <none|l2-token>', "'l2-token': L2-normalise each token of predictions", 'none')
    .requiredOption('--out <dir>', 'output folder (written atomically)')
    .action(async (o: FitFlags) => {
      const opts = fitOptions(o);
      const signal = ctx.interruptible();
      const bar = progressBar('ridge fit');
      let fit: RidgeHeadFit;
      try {
        fit = await runRidgeFit({ ...opts, signal, onProgress: (d, t, l) => bar.update(d, t, l) }, o.out);
      } finally {
        bar.stop();
      }
      process.stdout.write(`${describeRidgeFit(fit)}wrote ${o.out}\n`);
    });
}
