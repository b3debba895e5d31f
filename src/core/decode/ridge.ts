// Closed-form ridge regression with an intercept, solved once for a whole grid of penalties.
//
// scikit-learn's Ridge(alpha, fit_intercept=True) centres X and Y, solves
//   Wᵀ = (XcᵀXc + αI)⁻¹ XcᵀYc            (primal, p×p system), or equivalently
//   Wᵀ = Xcᵀ (XcXcᵀ + αI)⁻¹ Yc            (kernel, n×n system; cheaper when trials n < voxels p),
// and sets intercept = ȳ − x̄·Wᵀ. We diagonalise the smaller Gram matrix once (G = E Λ Eᵀ) and write
// both forms as  Wᵀ = Pᵀ · diag(1/(λ+α)) · Q  with
//   kernel: P = EᵀXc  [m=n, p],  Q = EᵀYc     [n, q]
//   primal: P = Eᵀ    [m=p, p],  Q = EᵀXcᵀYc  [p, q]
// so every extra penalty costs one m·p·q product and no new factorisation.
import { matrix64, type Matrix } from '../tensor/matrix.ts';
import { symmetricEigen } from './eigen.ts';
import { gemm, gemmNT } from './linalg.ts';

export interface RidgeSolution {
  alpha: number;
  /** [nOut, nVox], like sklearn's coef_. */
  coef: Matrix<Float64Array>;
  /** [nOut]. */
  intercept: Float64Array;
  /**
   * Mean of the training betas [nVox] (set by RidgePath.solve). Lets reduceRank give the compressed
   * head its own intercept, ȳ − x̄·(AB), so it too passes through the training means.
   */
  xMean?: Float64Array;
}

export type RidgeProgress = (done: number, total: number, label?: string) => void;

export interface RidgeOptions {
  signal?: AbortSignal;
  onProgress?: RidgeProgress;
  /** Force a form (tests); default: kernel when trials < voxels. */
  form?: 'kernel' | 'primal';
}

export class RidgePath {
  readonly nTrials: number;
  readonly nVox: number;
  readonly nOut: number;
  readonly form: 'kernel' | 'primal';
  readonly xMean: Float64Array;
  readonly yMean: Float64Array;
  /** Eigenvalues λ of the Gram matrix (descending), length m. */
  readonly eigenvalues: Float64Array;
  /** P [m, nVox] and Q [m, nOut] of the header comment. */
  /** Built on first solve() in the kernel form (tuning subjects only need predictor()). */
  private Pcache: Float64Array | null = null;
  private readonly Q: Float64Array;
  /** Kernel form: the centred betas and Eᵀ (rows = eigenvectors), to build P or project new trials. */
  private readonly Xc: Float64Array | null = null;
  private readonly Et: Float64Array | null = null;
  private readonly m: number;
  private readonly signal?: AbortSignal;

  constructor(X: Matrix, Y: Matrix, opts: RidgeOptions = {}) {
    if (X.rows !== Y.rows) throw new RangeError(`RidgePath: X has ${X.rows} trials but Y has ${Y.rows}`);
    if (X.rows < 2) throw new RangeError(`RidgePath: need at least 2 trials, got ${X.rows}`);
    const n = X.rows;
    const p = X.cols;
    const q = Y.cols;
    this.nTrials = n;
    this.nVox = p;
    this.nOut = q;
    this.signal = opts.signal;
    const report = opts.onProgress ?? (() => {});
    this.form = opts.form ?? (n < p ? 'kernel' : 'primal');
    this.xMean = columnMeans(X);
    this.yMean = columnMeans(Y);
    const Xc = centred(X, this.xMean);
    const Yc = centred(Y, this.yMean);
    const steps = 3;
    report(0, steps, 'gram');
    if (this.form === 'kernel') {
      const m = n;
      this.m = m;
      const G = gemmNT(Xc, n, p, Xc, n, opts.signal, true); // Xc Xcᵀ
      report(1, steps, 'eigendecomposition');
      const eig = symmetricEigen(G, n, { signal: opts.signal });
      this.eigenvalues = eig.values;
      report(2, steps, 'projection');
      this.Xc = Xc;
      this.Et = eig.vectors;
      this.Q = gemm(eig.vectors, m, n, Yc, q, opts.signal); // EᵀYc
    } else {
      const m = p;
      this.m = m;
      const Xt = transposeF64(Xc, n, p);
      const G = gemmNT(Xt, p, n, Xt, p, opts.signal, true); // XcᵀXc
      report(1, steps, 'eigendecomposition');
      const eig = symmetricEigen(G, p, { signal: opts.signal });
      this.eigenvalues = eig.values;
      report(2, steps, 'projection');
      this.Pcache = eig.vectors; // Eᵀ: rows are eigenvectors
      const XtY = gemm(Xt, p, n, Yc, q, opts.signal); // XcᵀYc [p, q]
      this.Q = gemm(eig.vectors, m, p, XtY, q, opts.signal);
    }
    report(steps, steps, 'done');
  }

  /** P [m, nVox] (kernel: EᵀXc, built once on demand; primal: Eᵀ). */
  private get P(): Float64Array {
    this.Pcache ??= gemm(this.Et!, this.m, this.nTrials, this.Xc!, this.nVox, this.signal);
    return this.Pcache;
  }

  private shrink(alpha: number): Float64Array {
    if (!(alpha > 0) || !Number.isFinite(alpha)) throw new RangeError(`ridge penalty must be a positive number, got ${alpha}`);
    const s = new Float64Array(this.m);
    for (let k = 0; k < this.m; k++) s[k] = 1 / (Math.max(this.eigenvalues[k], 0) + alpha);
    return s;
  }

  /** Coefficients and intercept for one penalty (reuses the decomposition). */
  solve(alpha: number): RidgeSolution {
    const s = this.shrink(alpha);
    const { m, nVox: p, nOut: q, P, Q } = this;
    // coef [q, p] = (Qᵀ·diag(s)) [q, m] · P [m, p]
    const QtS = new Float64Array(q * m);
    for (let k = 0; k < m; k++) for (let o = 0; o < q; o++) QtS[o * m + k] = Q[k * q + o] * s[k];
    const coef = gemm(QtS, q, m, P, p, this.signal);
    const intercept = Float64Array.from(this.yMean);
    for (let o = 0; o < q; o++) {
      let acc = 0;
      const c = o * p;
      for (let j = 0; j < p; j++) acc += this.xMean[j] * coef[c + j];
      intercept[o] -= acc;
    }
    return { alpha, coef: matrix64(q, p, coef), intercept, xMean: this.xMean };
  }

  /**
   * Predictions on new trials for any penalty without forming the coefficients: precomputes
   * (Xnew − x̄)·Pᵀ once ([nNew, m]); each penalty then costs nNew·m·nOut.
   */
  predictor(Xnew: Matrix): (alpha: number) => Matrix<Float64Array> {
    if (Xnew.cols !== this.nVox) throw new RangeError(`predictor: X has ${Xnew.cols} voxels, the fit has ${this.nVox}`);
    const { m, nVox: p, nOut: q, Q } = this;
    const r = Xnew.rows;
    const Xn = centred(Xnew, this.xMean);
    // H = (Xnew − x̄)·Pᵀ; in the kernel form via (Xnew − x̄)·Xcᵀ·E, which needs no P [n, p].
    const H = this.Pcache
      ? gemmNT(Xn, r, p, this.Pcache, m, this.signal)
      : gemmNT(gemmNT(Xn, r, p, this.Xc!, this.nTrials, this.signal), r, this.nTrials, this.Et!, m, this.signal); // [r, m]
    return (alpha: number) => {
      const s = this.shrink(alpha);
      const Hs = new Float64Array(r * m);
      for (let i = 0; i < r; i++) for (let k = 0; k < m; k++) Hs[i * m + k] = H[i * m + k] * s[k];
      const out = gemm(Hs, r, m, Q, q, this.signal);
      for (let i = 0; i < r; i++) for (let o = 0; o < q; o++) out[i * q + o] += this.yMean[o];
      return matrix64(r, q, out);
    };
  }
}

/**
 * Picks the penalty with the best mean R² (sklearn r2_score, uniform average over outputs) on
 * held-out trials. Ties keep the first (smallest index) penalty.
 */
export function chooseAlpha(path: RidgePath, Xval: Matrix, Yval: Matrix, alphas: number[]): { alpha: number; scores: number[] } {
  if (alphas.length === 0) throw new RangeError('chooseAlpha: empty penalty grid');
  if (Yval.rows !== Xval.rows || Yval.cols !== path.nOut) {
    throw new RangeError(`chooseAlpha: Yval is ${Yval.rows}x${Yval.cols}, expected ${Xval.rows}x${path.nOut}`);
  }
  const predict = path.predictor(Xval);
  const scores = alphas.map((a) => r2Score(Yval, predict(a)));
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i] > scores[best]) best = i;
  return { alpha: alphas[best], scores };
}

/** Mean over outputs of 1 − SS_res/SS_tot (sklearn r2_score, multioutput='uniform_average'). */
export function r2Score(yTrue: Matrix, yPred: Matrix): number {
  const { rows: n, cols: q } = yTrue;
  if (yPred.rows !== n || yPred.cols !== q) throw new RangeError('r2Score: shapes differ');
  let total = 0;
  for (let o = 0; o < q; o++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += yTrue.data[i * q + o];
    mean /= n;
    let ssTot = 0;
    let ssRes = 0;
    for (let i = 0; i < n; i++) {
      const t = yTrue.data[i * q + o];
      const d = t - yPred.data[i * q + o];
      ssRes += d * d;
      ssTot += (t - mean) * (t - mean);
    }
    // sklearn (force_finite): constant target scores 1 if predicted exactly, else 0.
    total += ssTot === 0 ? (ssRes === 0 ? 1 : 0) : 1 - ssRes / ssTot;
  }
  return total / q;
}

/** X·coefᵀ + intercept, float64: the full-rank prediction of a solution. */
export function predictSolution(sol: RidgeSolution, X: Matrix): Matrix<Float64Array> {
  const { rows: q, cols: p } = sol.coef;
  if (X.cols !== p) throw new RangeError(`predictSolution: X has ${X.cols} voxels, coef has ${p}`);
  const out = new Float64Array(X.rows * q);
  for (let i = 0; i < X.rows; i++) {
    const xi = i * p;
    for (let o = 0; o < q; o++) {
      let acc = sol.intercept[o];
      const c = o * p;
      for (let j = 0; j < p; j++) acc += X.data[xi + j] * sol.coef.data[c + j];
      out[i * q + o] = acc;
    }
  }
  return matrix64(X.rows, q, out);
}

/** Splits trials into a training part and a held-out tail (deterministic: the last fraction). */
export function splitRows(M: Matrix, nTrain: number): [Matrix<Float64Array>, Matrix<Float64Array>] {
  const a = matrix64(nTrain, M.cols, Float64Array.from(M.data.subarray(0, nTrain * M.cols)));
  const b = matrix64(M.rows - nTrain, M.cols, Float64Array.from(M.data.subarray(nTrain * M.cols)));
  return [a, b];
}

function columnMeans(M: Matrix): Float64Array {
  const mean = new Float64Array(M.cols);
  for (let i = 0; i < M.rows; i++) {
    const o = i * M.cols;
    for (let j = 0; j < M.cols; j++) mean[j] += M.data[o + j];
  }
  for (let j = 0; j < M.cols; j++) mean[j] /= M.rows;
  return mean;
}

function centred(M: Matrix, mean: Float64Array): Float64Array {
  const out = new Float64Array(M.rows * M.cols);
  for (let i = 0; i < M.rows; i++) {
    const o = i * M.cols;
    for (let j = 0; j < M.cols; j++) out[o + j] = M.data[o + j] - mean[j];
  }
  return out;
}

function transposeF64(a: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j];
  return out;
}

/**
 * Output columns [start, end) of a solution. Fitting every head of a subject in one RidgePath
 * (targets concatenated along the columns) shares one decomposition; this cuts each head back out.
 */
export function sliceOutputs(sol: RidgeSolution, start: number, end: number): RidgeSolution {
  const { rows: q, cols: p } = sol.coef;
  if (!(0 <= start && start < end && end <= q)) throw new RangeError(`sliceOutputs: [${start}, ${end}) outside [0, ${q})`);
  return {
    alpha: sol.alpha,
    coef: matrix64(end - start, p, sol.coef.data.slice(start * p, end * p)),
    intercept: sol.intercept.slice(start, end),
    xMean: sol.xMean,
  };
}
