// The file side of `mirage ridge fit`: .npy matrices in (refused when not 2-D or not finite), the
// fit's folder out (written atomically): coef.npy [outputs, voxels] and intercept.npy (float64,
// like sklearn's coef_/intercept_), fit.json, and head/head.json + head/<shard> (the reduced-rank
// head and its shard, ready to copy into a bundle). The fitting is src/core/decode/ridgeHead.ts;
// runRidgeFit is the whole command after its flags (cli/commands/ridge.ts), also called by tests.
import { basename } from 'node:path';
import { BundleError } from '../core/base/errors.ts';
import { fitRidgeHead, type RidgeHeadFit, type RidgeHeadOptions } from '../core/decode/ridgeHead.ts';
import { assertFinite } from '../core/tensor/finite.ts';
import { matrix, matrix64, type Matrix } from '../core/tensor/matrix.ts';
import { readNpy, writeNpy } from '../core/tensor/npy.ts';
import { writeAtomically } from './atomic.ts';
import { readRegularFile } from './files.ts';

/** A 2-D .npy as a Matrix (float32/float64 kept, other numeric types widened to float32). */
export async function readMatrixNpy(path: string, what: 'betas' | 'targets'): Promise<Matrix> {
  const bytes = await readRegularFile(path, { field: `--${what}`, expected: `a 2-D .npy of ${what}` });
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

/**
 * `mirage ridge fit` after its flags: the two .npy files named in the options, the fit, the folder
 * (the options' signal stops the fit and discards the output).
 */
export async function runRidgeFit(options: RidgeHeadOptions, out: string): Promise<RidgeHeadFit> {
  const X = await readMatrixNpy(options.betasName, 'betas');
  const Y = await readMatrixNpy(options.targetsName, 'targets');
  const fit = await fitRidgeHead(X, Y, options);
  await writeRidgeFit(out, fit, { betas: options.betasName, targets: options.targetsName }, options.signal);
  return fit;
}

/** Writes the fit's folder; `inputs` are recorded in fit.json as given. */
export async function writeRidgeFit(out: string, fit: RidgeHeadFit, inputs: { betas: string; targets: string }, signal?: AbortSignal): Promise<void> {
  const { solution: sol } = fit;
  await writeAtomically(out, async (sink) => {
    await sink.write('coef.npy', writeNpy(sol.coef.data, [sol.coef.rows, sol.coef.cols], '<f8'));
    await sink.write('intercept.npy', writeNpy(sol.intercept, [sol.intercept.length], '<f8'));
    for (const s of fit.shards) await sink.write(`head/${s.path}`, s.bytes);
    const shards = fit.shards.map((s) => ({ path: s.path, bytes: s.bytes.byteLength, sha256: s.sha256 }));
    await sink.write('head/head.json', new TextEncoder().encode(JSON.stringify({ subject: fit.subject, head: fit.head, shards }, null, 1)));
    const report = {
      betas: inputs.betas,
      targets: inputs.targets,
      ...fit.report,
      files: { coef: 'coef.npy', intercept: 'intercept.npy', head: 'head/head.json' },
    };
    await sink.write('fit.json', new TextEncoder().encode(JSON.stringify(report, null, 1)));
  }, { signal });
}

/** The one line `mirage ridge fit` prints about a fit. */
export function describeRidgeFit(fit: RidgeHeadFit): string {
  const r = fit.report;
  return (
    `ridge fit: ${r.trials} trials x ${r.voxels} voxels -> ${r.outputs} outputs, alpha ${r.alpha}` +
    `${r.grid ? ` (best of ${r.grid.alphas.length}, held-out R² ${Math.max(...r.grid.scores).toFixed(4)})` : ''}` +
    `, head rank ${r.rank}, fidelity R² ${fit.head.fidelity.r2.toFixed(4)}\n`
  );
}
