// `mirage ridge fit`: ridge regression from betas (.npy [trials, voxels]) to targets (.npy
// [trials, outputs]), the same closed form as scikit-learn's Ridge(alpha, fit_intercept=True).
// Writes coef.npy [outputs, voxels] (float64, like sklearn's coef_), intercept.npy, fit.json, and a
// reduced-rank bundle head (head/head.json + head/subj0N/heads/<name>.bin) ready to splice into a
// bundle's manifest.
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { BundleError } from '../../src/core/base/errors.ts';
import { HEAD_NAMES, HeadSchema, type HeadName } from '../../src/core/bundle/manifest.ts';
import { sha256Hex } from '../../src/core/bundle/sha256.ts';
import { BundleWriter } from '../../src/core/bundle/writer.ts';
import { addHead } from '../../src/core/decode/headBuilder.ts';
import { reduceRank } from '../../src/core/decode/reducedRank.ts';
import { chooseAlpha, RidgePath, splitRows, type RidgeSolution } from '../../src/core/decode/ridge.ts';
import { matrix, matrix64, type Matrix } from '../../src/core/tensor/matrix.ts';
import { readNpy, writeNpy } from '../../src/core/tensor/npy.ts';
import { assertFinite } from '../../src/core/tensor/finite.ts';
import { writeAtomically } from '../../src/node/atomic.ts';
import { progressBar } from '../../src/node/progress.ts';
import type { CommandContext } from '../context.ts';

/** A 2-D .npy as a Matrix (float32/float64 kept, other numeric types widened to float32). */
export async function readMatrixNpy(path: string, what: string): Promise<Matrix> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new BundleError(path, `cannot read ${what}: ${(e as Error).message}`);
  }
  const a = readNpy(bytes, basename(path));
  if (a.shape.length !== 2) {
    throw new BundleError(path, `${what} has shape (${a.shape.join(', ')})`, { field: 'header.shape', expected: `2 dimensions [trials, ${what === 'betas' ? 'voxels' : 'outputs'}]` });
  }
  // NaN/Inf in X or Y would give all-NaN coefficients with exit 0: refused here, at the entry.
  assertFinite(path, what, a.data, { shape: a.shape });
  const [r, c] = a.shape;
  if (a.data instanceof Float64Array) return matrix64(r, c, a.data);
  if (a.data instanceof Float32Array) return matrix(r, c, a.data);
  return matrix(r, c, Float32Array.from(a.data as ArrayLike<number>));
}

function l2Rows(X: Matrix): Matrix {
  const out = matrix64(X.rows, X.cols);
  for (let i = 0; i < X.rows; i++) {
    let ss = 0;
    for (let j = 0; j < X.cols; j++) ss += X.data[i * X.cols + j] ** 2;
    const s = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    for (let j = 0; j < X.cols; j++) out.data[i * X.cols + j] = X.data[i * X.cols + j] * s;
  }
  return out;
}

function parseNumberList(v: string, flag: string): number[] {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (!xs.length || xs.some((x) => !Number.isFinite(x))) throw new BundleError('command line', `${flag} "${v}"`, { expected: 'comma-separated numbers' });
  return xs;
}

export interface FitOptions {
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
    .action(async (o: FitOptions) => {
      const bar = progressBar('ridge fit');
      try {
        await ridgeFit(o, (d, t, l) => bar.update(d, t, l), ctx.interruptible());
      } finally {
        bar.stop();
      }
    });
}

export async function ridgeFit(o: FitOptions, progress: (done: number, total: number, label?: string) => void, signal?: AbortSignal): Promise<void> {
  if (!o.alpha && !o.alphas) throw new BundleError('command line', 'no penalty given', { expected: '--alpha A or --alphas a,b,c' });
  if (!(HEAD_NAMES as readonly string[]).includes(o.name)) throw new BundleError('command line', `--name ${o.name}`, { expected: HEAD_NAMES.join(', ') });
  if (!['none', 'l2'].includes(o.inputNorm)) throw new BundleError('command line', `--input-norm ${o.inputNorm}`, { expected: 'none or l2' });
  if (!['none', 'l2-token'].includes(o.outputNorm)) throw new BundleError('command line', `--output-norm ${o.outputNorm}`, { expected: 'none or l2-token' });
  const rank = Number(o.rank);
  const subject = Number(o.subject);
  const valFrac = Number(o.valFrac);
  if (!(valFrac >= 0 && valFrac < 1)) throw new BundleError('command line', `--val-frac ${o.valFrac}`, { expected: 'a number in [0, 1)' });
  if (!Number.isInteger(subject) || subject < 1) throw new BundleError('command line', `--subject ${o.subject}`, { expected: 'a positive integer' });

  let X = await readMatrixNpy(o.betas, 'betas');
  const Y = await readMatrixNpy(o.targets, 'targets');
  if (X.rows !== Y.rows) {
    throw new BundleError(o.targets, `has ${Y.rows} rows but ${basename(o.betas)} has ${X.rows}`, { field: 'header.shape[0]', expected: `${X.rows} trials` });
  }
  const outputShape = o.outputShape ? parseNumberList(o.outputShape, '--output-shape') : [Y.cols];
  if (outputShape.reduce((a, b) => a * b, 1) !== Y.cols) {
    throw new BundleError('command line', `--output-shape ${outputShape.join(',')} has ${outputShape.reduce((a, b) => a * b, 1)} values`, { expected: `${Y.cols} (the targets' columns)` });
  }
  if (o.inputNorm === 'l2') X = l2Rows(X);
  const nVal = Math.floor(X.rows * valFrac);
  const nTrain = X.rows - nVal;

  // Penalty: the single --alpha, or the grid's best on the held-out tail.
  let alpha = o.alpha ? Number(o.alpha) : NaN;
  let grid: { alphas: number[]; scores: number[]; trainTrials: number; valTrials: number } | undefined;
  if (o.alphas) {
    const alphas = parseNumberList(o.alphas, '--alphas');
    if (nVal < 2) throw new BundleError('command line', `--val-frac ${valFrac} holds out ${nVal} trials`, { expected: 'at least 2 held-out trials to choose a penalty' });
    const [Xtr, Xval] = splitRows(X, nTrain);
    const [Ytr, Yval] = splitRows(Y, nTrain);
    const path = new RidgePath(Xtr, Ytr, { onProgress: (d, t, l) => progress(d, 2 * t, `choosing penalty: ${l}`) });
    const chosen = chooseAlpha(path, Xval, Yval, alphas);
    alpha = chosen.alpha;
    grid = { alphas, scores: chosen.scores, trainTrials: nTrain, valTrials: nVal };
  }
  // Final fit on every trial (what sklearn's Ridge(alpha).fit(X, Y) gives).
  const path = new RidgePath(X, Y, { onProgress: (d, t, l) => progress(grid ? t + d : d, grid ? 2 * t : t, `fit: ${l}`) });
  const sol: RidgeSolution = path.solve(alpha);

  const Xheld = nVal >= 2 ? splitRows(X, nTrain)[1] : undefined;
  const red = reduceRank(sol, Math.max(1, rank), Xheld);
  const targetMean = new Float32Array(path.yMean);
  const targetStd = new Float32Array(Y.cols);
  for (let c = 0; c < Y.cols; c++) {
    let v = 0;
    for (let i = 0; i < Y.rows; i++) v += (Y.data[i * Y.cols + c] - path.yMean[c]) ** 2;
    targetStd[c] = Math.sqrt(v / Y.rows);
  }

  await writeAtomically(o.out, async (sink) => {
    await sink.write('coef.npy', writeNpy(sol.coef.data, [sol.coef.rows, sol.coef.cols], '<f8'));
    await sink.write('intercept.npy', writeNpy(sol.intercept, [sol.intercept.length], '<f8'));
    // The head: its shard plus the manifest entry, to be copied into a bundle.
    const files = new Map<string, Uint8Array>();
    const writer = new BundleWriter({ write: async (p, b) => void files.set(p, b) });
    const head = addHead(writer, subject, {
      name: o.name as HeadName,
      role: o.role ?? `ridge from ${basename(o.betas)} to ${basename(o.targets)}`,
      outputShape,
      A: red.A,
      B: red.B,
      intercept: red.intercept,
      targetMean,
      targetStd,
      inputNorm: o.inputNorm as 'none' | 'l2',
      outputNorm: o.outputNorm as 'none' | 'l2-token',
      penalty: alpha,
      penaltySource: grid ? `mean R² on the last ${nVal} of ${X.rows} trials over [${grid.alphas.join(', ')}]` : 'given (--alpha)',
      fidelity: {
        r2: red.fidelityR2,
        trials: red.fidelityTrials,
        description: red.fidelityTrials
          ? `float16 rank-${red.A.cols} vs full predictions on the last ${red.fidelityTrials} trials of the input (also in the fit)`
          : `coefficient-space R² of the float16 rank-${red.A.cols} factors (no held-out trials)`,
      },
    });
    HeadSchema.parse(head);
    await writer.closeShard(head.A.shard);
    const shards = [];
    for (const [p, b] of files) {
      await sink.write(`head/${p}`, b);
      shards.push({ path: p, bytes: b.byteLength, sha256: await sha256Hex(b) });
    }
    await sink.write('head/head.json', new TextEncoder().encode(JSON.stringify({ subject, head, shards }, null, 1)));
    const report = {
      betas: o.betas,
      targets: o.targets,
      trials: X.rows,
      voxels: X.cols,
      outputs: Y.cols,
      alpha,
      form: path.form,
      inputNorm: o.inputNorm,
      grid,
      rank: red.A.cols,
      singularValues: Array.from(red.singularValues),
      fidelity: head.fidelity,
      files: { coef: 'coef.npy', intercept: 'intercept.npy', head: 'head/head.json' },
    };
    await sink.write('fit.json', new TextEncoder().encode(JSON.stringify(report, null, 1)));
    process.stdout.write(
      `ridge fit: ${X.rows} trials x ${X.cols} voxels -> ${Y.cols} outputs, alpha ${alpha}` +
        `${grid ? ` (best of ${grid.alphas.length}, held-out R² ${Math.max(...grid.scores).toFixed(4)})` : ''}` +
        `, head rank ${red.A.cols}, fidelity R² ${red.fidelityR2.toFixed(4)}\n`,
    );
  }, { signal });
  process.stdout.write(`wrote ${o.out}\n`);
}
