// A stage as a chain of consecutive sub-graphs. onnxruntime-web cannot create one session over
// stage C at 3.6B parameters (the wasm heap is 4 GB and a session's weights pass through it; a
// WebGPU adapter grants limited buffers), so the network is written as a list of units (the
// conditioning + embedding, each block, each rescaler, the head) and cut into parts of at most
// `maxPartBytes` of weights. Units pass values through named *slots* (the hidden state `h`, the
// conditioning `cond`, the r embedding `r_embed`, the down path's skips); at a cut, every slot a
// later unit still reads becomes a named output of the part (`h.1`, `skip_0.0`, …) and an input of
// the part that reads it. Values computed once (cond, r_embed) are handed to every later part that
// reads them, not recomputed; the stage's own inputs (x, r, clip_*) are read by name wherever needed.
import type { Dim, OnnxDType } from '../../../onnx/builder.ts';
import type { TensorSpec } from '../../modelPack.ts';
import type { Checkpoint } from '../checkpoint.ts';
import { bytesPerWeight, type StageBuildOptions, type StagePartGraph } from './pack.ts';
import { CascadeGraph, numel, type ShapeMap } from './blocks.ts';

/** The values a unit reads and writes, by slot name, inside the part being built. */
export interface Slots {
  /** The slot's value in this graph (declared as a part input on first use when an earlier part made it). */
  get(slot: string): string;
  /** Sets a slot; `shape` is its shape (symbolic batch) in case it crosses a cut. */
  set(slot: string, value: string, shape: Dim[]): void;
}

/** One step of the network: its parameters and the slots it reads and writes. */
export interface ChainUnit {
  label: string;
  /** Parameters this unit reads from the checkpoint. */
  params: number;
  /**
   * The weights' identity when a unit runs weights an earlier unit ran too (stage B's block_repeat
   * applies a level's blocks again): within one part they are held once, so counted once.
   */
  weights?: string;
  reads: readonly string[];
  writes: readonly string[];
  run(cg: CascadeGraph, slots: Slots): Promise<void>;
}

export interface ChainSpec {
  /** Graph and file base name, e.g. 'stage_c'. */
  name: string;
  /** The stage's inputs (float32), by ONNX name: slots every unit may read. */
  inputs: Record<string, TensorSpec>;
  /** The stage's outputs by ONNX name; the last unit writes these slots (converted to float32). */
  outputs: Record<string, TensorSpec>;
  units: ChainUnit[];
  /** Every tensor the units read, with its shape. */
  shapes: ShapeMap;
}

/** Parameters a group of units holds: each weight set (`weights`) once. */
/** Parameters of the checkpoint tensors whose keys start with one of the prefixes (a unit's `params`). */
export function paramsWithPrefix(shapes: ShapeMap, ...prefixes: string[]): number {
  let n = 0;
  for (const [k, sh] of shapes) if (prefixes.some((p) => k.startsWith(p))) n += numel(sh);
  return n;
}

/**
 * The `clf` head both denoisers end with: LayerNorm2d and a 1x1 conv (a channel-last linear) back to
 * NCHW, then, where the stage works on patches (stage B), PixelShuffle(patch) — DepthToSpace in CRD order.
 */
export function clfHeadUnit(shapes: ShapeMap, cIn: number, cOut: number, size: number, patch: number): ChainUnit {
  return {
    label: 'head',
    params: paramsWithPrefix(shapes, 'clf.'),
    reads: ['h'],
    writes: ['pred'],
    async run(cg, st) {
      const g = cg.g;
      const y = g.op('Transpose', [await cg.linear(cg.layerNorm(st.get('h'), cIn), 'clf.1')], { perm: [0, 3, 1, 2] });
      st.set('pred', patch === 1 ? y : g.op('DepthToSpace', [y], { blocksize: patch, mode: 'CRD' }), ['batch', cOut, size, size]);
    },
  };
}

export function partParams(units: readonly { params: number; weights?: string }[]): number {
  const seen = new Set<string>();
  let n = 0;
  for (const u of units) {
    if (u.weights !== undefined) {
      if (seen.has(u.weights)) continue;
      seen.add(u.weights);
    }
    n += u.params;
  }
  return n;
}

/**
 * Consecutive groups of unit indices, each under `maxParams` parameters (a larger unit stands
 * alone). A unit repeating weights already in the group adds nothing; in a later part it adds them again.
 */
export function planParts(units: readonly { params: number; weights?: string }[], maxParams: number): number[][] {
  const parts: number[][] = [];
  let cur: number[] = [];
  let seen = new Set<string>();
  let sum = 0;
  units.forEach((u, i) => {
    let cost = u.weights !== undefined && seen.has(u.weights) ? 0 : u.params;
    if (cur.length && sum + cost > maxParams) {
      parts.push(cur);
      cur = [];
      seen = new Set();
      sum = 0;
      cost = u.params;
    }
    cur.push(i);
    if (u.weights !== undefined) seen.add(u.weights);
    sum += cost;
  });
  if (cur.length) parts.push(cur);
  return parts;
}

/** Whether `slot` is read by a unit after index `after` before being overwritten. */
function liveAfter(units: readonly ChainUnit[], after: number, slot: string): boolean {
  for (let v = after + 1; v < units.length; v++) {
    if (units[v].reads.includes(slot)) return true;
    if (units[v].writes.includes(slot)) return false;
  }
  return false;
}

/**
 * Builds the chain's parts one after another (each yielded before the next reads its weights).
 * With no `maxPartBytes` the whole stage is one graph with the stage's inputs and outputs.
 */
export async function* buildChain(spec: ChainSpec, ck: Checkpoint, opts: StageBuildOptions = {}): AsyncGenerator<StagePartGraph> {
  const precision = opts.precision ?? 'float32';
  const maxParams = opts.maxPartBytes && Number.isFinite(opts.maxPartBytes) ? opts.maxPartBytes / bytesPerWeight(precision) : Infinity;
  const groups = planParts(spec.units, maxParams);
  const total = spec.shapes.size;
  let read = 0;
  // Slots made by earlier parts: the hand-off name and spec each later part reads them by.
  const pool = new Map<string, TensorSpec>();
  const f16 = precision === 'float16';
  const dtype: OnnxDType = precision;
  for (const [k, group] of groups.entries()) {
    const single = groups.length === 1;
    const base = single ? spec.name : `${spec.name}.part-${k}`;
    const cg = new CascadeGraph(`${base}${f16 ? '_f16' : ''}`, ck, spec.shapes, precision, (key) => opts.onTensor?.(key, ++read, total));
    const g = cg.g;
    const inputs: Record<string, TensorSpec> = {};
    const local = new Map<string, { value: string; shape: Dim[]; made: boolean }>();
    const slots: Slots = {
      get(slot) {
        const have = local.get(slot);
        if (have) return have.value;
        const from = spec.inputs[slot] ?? pool.get(slot);
        if (!from) throw new Error(`${base}: slot "${slot}" is read before any unit wrote it`);
        g.input(from.name, from.dtype, from.shape);
        inputs[from.name] = from;
        local.set(slot, { value: from.name, shape: from.shape, made: false });
        return from.name;
      },
      set(slot, value, shape) {
        local.set(slot, { value, shape, made: true });
      },
    };
    for (const i of group) await spec.units[i].run(cg, slots);
    const params = partParams(group.map((i) => spec.units[i]));
    const last = group[group.length - 1];
    const outputs: Record<string, TensorSpec> = {};
    for (const [slot, v] of local) {
      if (!v.made) continue;
      const out = spec.outputs[slot];
      if (out && last === spec.units.length - 1) {
        cg.toFloat(v.value, out.name);
        g.output(out.name, out.dtype, out.shape);
        outputs[out.name] = out;
      } else if (liveAfter(spec.units, last, slot)) {
        const h: TensorSpec = { name: `${slot}.${k}`, dtype, shape: v.shape };
        g.op('Identity', [v.value], undefined, h.name);
        g.output(h.name, dtype, v.shape);
        outputs[h.name] = h;
        pool.set(slot, h);
      }
    }
    yield { base, graph: g, inputs, outputs, parameters: params };
  }
}
