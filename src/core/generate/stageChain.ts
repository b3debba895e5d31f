// A stage stored as a chain of consecutive ONNX graphs (`parts` in its manifest entry): a model too
// large for one onnxruntime-web session (Stable Cascade's 3.6B stage C: the wasm heap is 4 GB and
// WebGPU adapters grant limited buffers) is cut into parts that each fit, run back to back. A part
// reads the stage's inputs and earlier parts' outputs by ONNX name (the hand-offs: hidden state,
// conditioning, skip connections); the last part writes the stage's outputs. Under WebGPU every
// hand-off stays on the device ('gpu-buffer'), and each is disposed after the last part that reads
// it, so the chain holds on the GPU only the few activations that cross a cut.
import { BundleError } from '../base/errors.ts';
import { ort } from '../onnx/runtime.ts';
import type { StagePart } from './modelPack.ts';

export type { StagePart };

/**
 * Checks that every part reads only names known by then (stage inputs or earlier outputs) and that
 * the last parts produce the stage's outputs; throws naming the manifest field.
 */
export function checkChain(file: string, field: string, parts: readonly StagePart[], stageInputs: readonly string[], stageOutputs: readonly string[]): void {
  const known = new Set(stageInputs);
  parts.forEach((p, k) => {
    for (const name of p.inputs) {
      if (!known.has(name)) throw new BundleError(file, `part ${k} reads "${name}", which no stage input or earlier part provides`, { field: `${field}.parts.${k}.inputs`, expected: [...known].join(', ') });
    }
    for (const o of p.outputs) known.add(o.name);
  });
  for (const name of stageOutputs) {
    if (!known.has(name)) throw new BundleError(file, `no part writes the stage output "${name}"`, { field: `${field}.parts`, expected: `a part with output ${name}` });
  }
}

/** A part ready to run: its names, and how to run it (a session, wherever it lives). */
export interface ChainLink {
  inputs: readonly string[];
  outputs: readonly string[];
  run(feeds: Record<string, ort.Tensor>, fetches: string[]): Promise<Record<string, ort.Tensor>>;
}

/** After which part each hand-off can be freed (its last reader); requested outputs are never freed. */
export function lastReaders(links: readonly Pick<ChainLink, 'inputs' | 'outputs'>[], keep: readonly string[]): Map<string, number> {
  const last = new Map<string, number>();
  links.forEach((l, k) => {
    for (const n of l.inputs) if (last.has(n)) last.set(n, k);
    // Made here: freed right after this part unless a later part reads it.
    for (const n of l.outputs) last.set(n, k);
  });
  for (const n of keep) last.delete(n);
  return last;
}

/**
 * Runs the links in order on `feeds` (the stage's inputs by ONNX name, owned by the caller) and
 * returns `outputs` by name. Hand-offs are disposed after their last reader (GPU buffers freed
 * between parts), also when a part throws.
 */
export async function runChain(
  links: readonly ChainLink[],
  feeds: Record<string, ort.Tensor>,
  outputs: readonly string[],
  /** Sees every tensor a part writes (where it lives: the browser spec asserts the hand-offs stay on the GPU). */
  onPartOutput?: (part: number, name: string, t: ort.Tensor) => void,
): Promise<Record<string, ort.Tensor>> {
  const pool = new Map<string, ort.Tensor>(Object.entries(feeds));
  const last = lastReaders(links, outputs);
  const made = new Set<ort.Tensor>();
  try {
    for (const [k, link] of links.entries()) {
      const f: Record<string, ort.Tensor> = {};
      for (const n of link.inputs) {
        const t = pool.get(n);
        if (!t) throw new Error(`stage chain: part ${k} needs "${n}", which is neither fed nor made by an earlier part`);
        f[n] = t;
      }
      const res = await link.run(f, [...link.outputs]);
      for (const n of link.outputs) {
        const t = res[n];
        if (!t) throw new Error(`stage chain: part ${k} returned no "${n}"`);
        pool.set(n, t);
        made.add(t);
        onPartOutput?.(k, n, t);
      }
      for (const [n, at] of last) {
        if (at !== k) continue;
        const t = pool.get(n);
        if (t && made.has(t)) {
          t.dispose();
          made.delete(t);
        }
        pool.delete(n);
      }
    }
    const out: Record<string, ort.Tensor> = {};
    for (const n of outputs) {
      const t = pool.get(n);
      if (!t) throw new Error(`stage chain: no part wrote "${n}"`);
      out[n] = t;
      made.delete(t);
    }
    return out;
  } finally {
    for (const t of made) t.dispose();
  }
}
