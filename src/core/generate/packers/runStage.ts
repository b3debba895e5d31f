// One stage of a pack run on plain arrays (`mirage run-stage`, issue 15 item 4): inputs arrive by
// role (the .npy files a Python user saved), are checked against the stage's declared dtypes and
// shapes (symbolic dims bound once, consistently across inputs), fed under the ONNX names the
// manifest maps the roles to, and the outputs come back by role. This is how anyone compares a
// pack's graph with PyTorch: same arrays in, arrays out, no knowledge of ONNX value names needed.
import { BundleError } from '../../base/errors.ts';
import type { NpyArray, NpyData, NpyDtype } from '../../tensor/npy.ts';
import { createSession, ort, type OrtSession } from '../../onnx/runtime.ts';
import type { TensorSpec } from '../modelPack.ts';
import type { LoadedStage } from './stagePack.ts';
import { runChain } from '../stageChain.ts';

export interface RoleArray {
  dtype: 'float32' | 'int64';
  shape: number[];
  data: Float32Array | BigInt64Array;
}

/** What a role was given as, for error messages: the caller's file name (e.g. inputs/x.npy). */
export type InputFiles = Record<string, string>;

/**
 * Converts a .npy array to the dtype a role declares. float32 roles take any float or integer
 * array (float64 is what numpy saves by default; the values are rounded to float32 as torch's
 * `.float()` would); int64 roles take integer arrays only (a float token id is a mistake).
 */
export function toRoleArray(a: NpyArray, spec: TensorSpec, file: string): RoleArray {
  if (spec.dtype === 'float32') {
    if (a.dtype === '|b1') throw new BundleError(file, `dtype ${a.dtype}`, { field: 'header.descr', expected: `numbers for ${spec.name} (float32)` });
    return { dtype: 'float32', shape: a.shape, data: a.data instanceof Float32Array ? a.data : Float32Array.from(a.data as ArrayLike<number>) };
  }
  if (spec.dtype === 'int64') {
    if (!['<i8', '<i4', '<i2', '|i1', '|u1', '<u2', '<u4'].includes(a.dtype)) {
      throw new BundleError(file, `dtype ${a.dtype}`, { field: 'header.descr', expected: `integers for ${spec.name} (int64, e.g. np.int64)` });
    }
    const out = new BigInt64Array(a.data.length);
    for (let i = 0; i < out.length; i++) out[i] = BigInt(a.data[i]);
    return { dtype: 'int64', shape: a.shape, data: out };
  }
  throw new BundleError(file, `the stage declares dtype ${spec.dtype} for ${spec.name}`, { expected: 'float32 or int64 inputs (what run-stage can feed)' });
}

/** Checks every input's shape against its spec; symbolic dims must agree across inputs. Returns the bindings. */
export function bindShapes(specs: Record<string, TensorSpec>, given: Record<string, RoleArray>, files: InputFiles): Record<string, number> {
  const bind: Record<string, number> = {};
  const boundBy: Record<string, string> = {};
  for (const [role, spec] of Object.entries(specs)) {
    const a = given[role];
    const file = files[role] ?? role;
    const want = `[${spec.shape.join(', ')}]`;
    if (a.shape.length !== spec.shape.length) {
      throw new BundleError(file, `shape [${a.shape.join(', ')}] has ${a.shape.length} dims`, { field: 'header.shape', expected: `${spec.shape.length} dims ${want} for role "${role}"` });
    }
    spec.shape.forEach((d, i) => {
      const got = a.shape[i];
      if (typeof d === 'number') {
        if (got !== d) throw new BundleError(file, `shape [${a.shape.join(', ')}]: dim ${i} is ${got}`, { field: 'header.shape', expected: `${d} (${want} for role "${role}")` });
      } else if (bind[d] === undefined) {
        // Only the batch must be non-empty: other symbolic dims may be 0 by design (GiT's cached
        // decoder starts from an empty past, and its cached steps take no image rows).
        const least = d === 'batch' ? 1 : 0;
        if (got < least) throw new BundleError(file, `shape [${a.shape.join(', ')}]: dim ${i} ("${d}") is ${got}`, { field: 'header.shape', expected: `at least ${least}` });
        bind[d] = got;
        boundBy[d] = file;
      } else if (bind[d] !== got) {
        throw new BundleError(file, `shape [${a.shape.join(', ')}]: dim ${i} ("${d}") is ${got}, but ${boundBy[d]} gave ${bind[d]}`, { field: 'header.shape', expected: `the same "${d}" in every input` });
      }
    });
  }
  return bind;
}

function npyOutput(t: ort.Tensor, what: string): StageResult['outputs'][string] {
  const dims = [...t.dims];
  switch (t.type) {
    case 'float32': return { dims, data: t.data as Float32Array, npyDtype: '<f4' };
    case 'int32': return { dims, data: t.data as Int32Array, npyDtype: '<i4' };
    case 'uint8': return { dims, data: t.data as Uint8Array, npyDtype: '|u1' };
    case 'int64': return { dims, data: Float64Array.from(t.data as BigInt64Array, Number), npyDtype: '<i8' };
    default: throw new BundleError(what, `output dtype ${t.type}`, { expected: 'float32, int32, int64 or uint8 outputs' });
  }
}

export interface StageResult {
  /** Outputs by role, as .npy-ready data (int64 outputs as exact float64 values written '<i8'). */
  outputs: Record<string, { dims: number[]; data: NpyData; npyDtype: NpyDtype }>;
  bind: Record<string, number>;
  /** Wall milliseconds: creating the sessions (zero when the caller gave one) and running them. */
  timing: { sessionsMs: number; runMs: number };
}

/** Runs one loaded stage on role-named arrays (wasm unless asked otherwise); outputs by role. */
export async function runStage(
  stage: LoadedStage,
  inputs: Record<string, NpyArray>,
  opts: { files?: InputFiles; executionProviders?: string[]; session?: OrtSession } = {},
): Promise<StageResult> {
  const files: InputFiles = opts.files ?? Object.fromEntries(Object.keys(inputs).map((r) => [r, `${r}.npy`]));
  const specIn = stage.spec.inputs;
  const roles = Object.keys(specIn);
  for (const r of roles) {
    if (!inputs[r]) throw new BundleError(files[r] ?? `${r}.npy`, `input role "${r}" of stage ${stage.stage} was not given`, { expected: `one .npy per role: ${roles.map((x) => `${x}.npy`).join(', ')}` });
  }
  for (const r of Object.keys(inputs)) {
    if (!specIn[r]) throw new BundleError(files[r] ?? `${r}.npy`, `"${r}" is not an input role of stage ${stage.stage}`, { expected: `roles ${roles.join(', ')}` });
  }
  const given = Object.fromEntries(roles.map((r) => [r, toRoleArray(inputs[r], specIn[r], files[r])])) as Record<string, RoleArray>;
  const bind = bindShapes(specIn, given, files);
  // A chained stage (generate/stageChain.ts) runs its parts back to back, one session each.
  const t0 = performance.now();
  const sessions = opts.session ? [opts.session] : await openStageSessions(stage, opts.executionProviders);
  const t1 = performance.now();
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const r of roles) feeds[specIn[r].name] = new ort.Tensor(given[r].dtype, given[r].data, given[r].shape);
    const res =
      stage.parts && !opts.session
        ? await runChain(
            stage.parts.map((p, k) => ({ inputs: p.inputs, outputs: p.outputs, run: (f, fetches) => sessions[k].run(f, fetches) })),
            feeds,
            Object.values(stage.spec.outputs).map((o) => o.name),
          )
        : await sessions[0].run(feeds);
    const timing = { sessionsMs: t1 - t0, runMs: performance.now() - t1 };
    const outputs: StageResult['outputs'] = {};
    for (const [role, spec] of Object.entries(stage.spec.outputs)) {
      const t = res[spec.name];
      if (!t) throw new BundleError(stage.spec.file, `the graph has no output "${spec.name}" (role "${role}")`, { field: `stages.${stage.stage}.outputs.${role}`, expected: `one of ${Object.keys(res).join(', ')}` });
      outputs[role] = npyOutput(t, `${stage.spec.file}: ${spec.name}`);
    }
    return { outputs, bind, timing };
  } finally {
    if (!opts.session) for (const s of sessions) await s.release();
  }
}

/** One session per part of a chained stage (the stage's own for a one-graph stage); the caller releases them. */
async function openStageSessions(stage: LoadedStage, executionProviders: string[] = ['wasm']): Promise<OrtSession[]> {
  if (!stage.parts) return [await openStageSession(stage, executionProviders)];
  const out: OrtSession[] = [];
  for (const p of stage.parts) out.push(await createSession(p.onnx, { executionProviders, externalData: p.externalData }));
  return out;
}

/** A session for a loaded stage (its external weight files mounted); the caller releases it. */
export function openStageSession(stage: LoadedStage, executionProviders: string[] = ['wasm']): Promise<OrtSession> {
  return createSession(stage.onnx, { executionProviders, externalData: stage.externalData });
}
