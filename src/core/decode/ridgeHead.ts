// Fitting a bundle decoder head by ridge regression (what `mirage ridge fit` runs): the closed form
// of scikit-learn's Ridge(alpha, fit_intercept=True) from betas X [trials, voxels] to targets
// Y [trials, outputs] (./ridge.ts), the penalty given or chosen on the held-out tail, then the
// reduced-rank float16 head (./reducedRank.ts, ./headBuilder.ts) with its shard bytes and hash,
// ready to splice into a bundle's manifest. No files here: src/node/ridgeFiles.ts reads and writes.
import { BundleError } from '../base/errors.ts';
import type { StepProgress } from '../base/progress.ts';
import { yieldEvery, YIELD_MS } from '../base/yield.ts';
import { HeadSchema, type Head, type HeadName } from '../bundle/manifest.ts';
import { sha256Hex } from '../bundle/sha256.ts';
import { BundleWriter } from '../bundle/writer.ts';
import { matrix64, type Matrix } from '../tensor/matrix.ts';
import { addHead } from './headBuilder.ts';
import { reduceRank } from './reducedRank.ts';
import { chooseAlpha, RidgePath, splitRows, type RidgeSolution } from './ridge.ts';

export interface RidgeHeadOptions {
  /** Where X and Y came from: named in errors and in the head's role. */
  betasName: string;
  targetsName: string;
  /** The penalty, or a grid to choose from by mean R² on the last `valFrac` of the trials. */
  alpha?: number;
  alphas?: number[];
  /** Fraction of trials (the last ones) held out to choose the penalty and measure head fidelity. */
  valFrac: number;
  /** Rank of the stored head (A [voxels, rank] · B [rank, outputs], float16). */
  rank: number;
  name: HeadName;
  subject: number;
  /** Logical output shape (default [outputs]); its product must be Y's columns. */
  outputShape?: number[];
  /** What the head predicts (default: "ridge from <betas> to <targets>"). */
  role?: string;
  inputNorm: 'none' | 'l2';
  outputNorm: 'none' | 'l2-token';
  signal?: AbortSignal;
  onProgress?: StepProgress;
}

export interface PenaltyGrid {
  alphas: number[];
  /** Mean held-out R² per penalty. */
  scores: number[];
  trainTrials: number;
  valTrials: number;
}

export interface RidgeHeadFit {
  /** Full-precision coefficients [outputs, voxels] and intercept (sklearn's coef_, intercept_). */
  solution: RidgeSolution;
  /** The manifest entry and its shard(s), paths relative to the bundle root. */
  head: Head;
  subject: number;
  shards: { path: string; bytes: Uint8Array; sha256: string }[];
  /** What fit.json records. */
  report: {
    trials: number;
    voxels: number;
    outputs: number;
    alpha: number;
    form: RidgePath['form'];
    inputNorm: RidgeHeadOptions['inputNorm'];
    grid?: PenaltyGrid;
    rank: number;
    singularValues: number[];
    fidelity: Head['fidelity'];
  };
}

/** Each row scaled to unit L2 length (float64; an all-zero row stays zero): the 'l2' input norm. */
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

function checkOptions(X: Matrix, Y: Matrix, o: RidgeHeadOptions): number[] {
  if (o.alpha === undefined && !o.alphas) throw new BundleError('ridge fit', 'no penalty given', { expected: 'an alpha or a grid of alphas' });
  if (!(o.valFrac >= 0 && o.valFrac < 1)) throw new BundleError('ridge fit', `validation fraction ${o.valFrac}`, { expected: 'a number in [0, 1)' });
  if (!Number.isInteger(o.subject) || o.subject < 1) throw new BundleError('ridge fit', `subject ${o.subject}`, { expected: 'a positive integer' });
  if (X.rows !== Y.rows) {
    throw new BundleError(o.targetsName, `has ${Y.rows} rows but ${o.betasName} has ${X.rows}`, { field: 'header.shape[0]', expected: `${X.rows} trials` });
  }
  const outputShape = o.outputShape ?? [Y.cols];
  const size = outputShape.reduce((a, b) => a * b, 1);
  if (size !== Y.cols) {
    throw new BundleError('ridge fit', `output shape ${outputShape.join(',')} has ${size} values`, { expected: `${Y.cols} (the targets' columns)` });
  }
  return outputShape;
}

/** Fits the head; the inputs must already be finite (the readers refuse NaN/Inf where it enters). */
export async function fitRidgeHead(X0: Matrix, Y: Matrix, o: RidgeHeadOptions): Promise<RidgeHeadFit> {
  const outputShape = checkOptions(X0, Y, o);
  const progress: StepProgress = o.onProgress ?? (() => {});
  // The solves are synchronous; between them the event loop gets a turn so Ctrl-C is heard.
  const tick = yieldEvery(YIELD_MS, o.signal);
  const X = o.inputNorm === 'l2' ? l2Rows(X0) : X0;
  const nVal = Math.floor(X.rows * o.valFrac);
  const nTrain = X.rows - nVal;

  // Penalty: the one given, or the grid's best on the held-out tail.
  let alpha = o.alpha ?? NaN;
  let grid: PenaltyGrid | undefined;
  if (o.alphas) {
    if (nVal < 2) throw new BundleError('ridge fit', `validation fraction ${o.valFrac} holds out ${nVal} trials`, { expected: 'at least 2 held-out trials to choose a penalty' });
    const [Xtr, Xval] = splitRows(X, nTrain);
    const [Ytr, Yval] = splitRows(Y, nTrain);
    await tick();
    const path = new RidgePath(Xtr, Ytr, { signal: o.signal, onProgress: (d, t, l) => progress(d, 2 * t, `choosing penalty: ${l ?? ''}`) });
    await tick();
    const chosen = chooseAlpha(path, Xval, Yval, o.alphas);
    alpha = chosen.alpha;
    grid = { alphas: o.alphas, scores: chosen.scores, trainTrials: nTrain, valTrials: nVal };
  }
  // Final fit on every trial (what sklearn's Ridge(alpha).fit(X, Y) gives).
  await tick();
  const path = new RidgePath(X, Y, { signal: o.signal, onProgress: (d, t, l) => progress(grid ? t + d : d, grid ? 2 * t : t, `fit: ${l ?? ''}`) });
  await tick();
  const solution = path.solve(alpha);
  await tick();

  const red = reduceRank(solution, Math.max(1, o.rank), nVal >= 2 ? splitRows(X, nTrain)[1] : undefined);
  const targetStd = new Float32Array(Y.cols);
  for (let c = 0; c < Y.cols; c++) {
    let v = 0;
    for (let i = 0; i < Y.rows; i++) v += (Y.data[i * Y.cols + c] - path.yMean[c]) ** 2;
    targetStd[c] = Math.sqrt(v / Y.rows);
  }

  // The head's shard is built in memory: the caller decides where it goes.
  const files = new Map<string, Uint8Array>();
  const writer = new BundleWriter({ write: async (p, b) => void files.set(p, b) });
  const head = addHead(writer, o.subject, {
    name: o.name,
    role: o.role ?? `ridge from ${o.betasName} to ${o.targetsName}`,
    outputShape,
    A: red.A,
    B: red.B,
    intercept: red.intercept,
    targetMean: new Float32Array(path.yMean),
    targetStd,
    inputNorm: o.inputNorm,
    outputNorm: o.outputNorm,
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
  for (const [path, bytes] of files) shards.push({ path, bytes, sha256: await sha256Hex(bytes) });
  return {
    solution,
    head,
    subject: o.subject,
    shards,
    report: {
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
    },
  };
}
