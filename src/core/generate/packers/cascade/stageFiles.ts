// Which Stable Cascade file a checkpoint is, from the tensor names only (the official releases ship
// stage_a, effnet_encoder, stage_b(_lite), stage_c(_lite) as separate safetensors files that are
// easy to mix up), and the shape check every stage builder runs before reading a value: a file of
// another stage is named as such ("this is a stage B file"), a missing or misshapen tensor by its key.
import { BundleError } from '../../../base/errors.ts';
import type { Checkpoint } from '../checkpoint.ts';
import type { GraphBuilder } from '../../../onnx/builder.ts';
import type { ShapeMap } from './blocks.ts';
import { bytesPerWeight, type StageBuildOptions, type StagePartGraph } from './pack.ts';

export type CascadeFileKind = 'stageA' | 'effnet' | 'stageB' | 'stageC';

/** Tensors only one of the modules has (Stability-AI/StableCascade modules/*.py attribute names). */
const SIGNS: { kind: CascadeFileKind; keys: string[]; what: string }[] = [
  { kind: 'stageA', keys: ['vquantizer.codebook.weight', 'up_blocks.0.0.weight'], what: 'a stage A (VQGAN) file like stage_a.safetensors' },
  { kind: 'effnet', keys: ['backbone.0.0.weight', 'mapper.0.weight'], what: 'an EfficientNet encoder file like effnet_encoder.safetensors' },
  { kind: 'stageB', keys: ['effnet_mapper.0.weight', 'pixels_mapper.0.weight'], what: 'a stage B file like stage_b(_lite)(_bf16).safetensors' },
  { kind: 'stageC', keys: ['clip_txt_mapper.weight', 'clip_img_mapper.weight'], what: 'a stage C file like stage_c(_lite)(_bf16).safetensors' },
];

/** What the checkpoint looks like, with the tensor that says so; null when it is none of the four. */
export function identifyCascadeFile(ck: Checkpoint): { kind: CascadeFileKind; what: string; key: string; shape: number[] } | null {
  for (const s of SIGNS) {
    if (s.keys.every((k) => ck.tensors.has(k))) {
      const t = ck.tensors.get(s.keys[0]);
      return { kind: s.kind, what: s.what, key: s.keys[0], shape: t?.shape ?? [] };
    }
  }
  return null;
}

/**
 * Refuses a file of another Stable Cascade stage (naming what it is and the tensor that shows it),
 * then checks every tensor the graph reads: present, with the config's shape.
 */
export function checkCascadeCheckpoint(ck: Checkpoint, want: CascadeFileKind, shapes: ShapeMap, cfgName: string): void {
  const where = ck.files.join(', ') || ck.label;
  const found = identifyCascadeFile(ck);
  const expected = SIGNS.find((s) => s.kind === want)?.what ?? want;
  if (found && found.kind !== want) {
    throw new BundleError(where, `this is ${found.what} (it has ${found.key} [${found.shape.join(', ')}])`, { field: `tensor ${SIGNS.find((s) => s.kind === want)?.keys[0]}`, expected: `${expected} (${cfgName})` });
  }
  for (const [k, shape] of shapes) {
    const t = ck.tensors.get(k);
    if (!t) throw new BundleError(where, 'missing tensor', { field: `tensor ${k}`, expected: `shape [${shape.join(', ')}] (${cfgName})` });
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new BundleError(t.file, `shape [${t.shape.join(', ')}]`, { field: `tensor ${k}`, expected: `[${shape.join(', ')}] (${cfgName})` });
    }
  }
}

/**
 * A stage that is one graph, as pack.ts's builders yield it. Stages that cannot be cut (stage A,
 * the EfficientNet encoder) refuse a part limit below their weights rather than pass it silently.
 */
export function onePart(
  base: string,
  graph: GraphBuilder,
  parameters: number,
  opts: StageBuildOptions,
  io: Pick<StagePartGraph, 'inputs' | 'outputs'>,
): StagePartGraph {
  const bytes = parameters * bytesPerWeight(opts.precision);
  if (opts.maxPartBytes !== undefined && bytes > opts.maxPartBytes) {
    throw new RangeError(`${base}: ${bytes} bytes of ${opts.precision ?? 'float32'} weights in one graph exceed the ${opts.maxPartBytes}-byte part limit (this stage is not split)`);
  }
  return { base, graph, parameters, ...io };
}
