// The second source of `mirage pack clip`: a transformers.js-style folder (e.g. Xenova's
// clip-vit-large-patch14: onnx/vision_model.onnx, optionally onnx/vision_model_fp16.onnx), which many
// users already have cached. Those graphs are exports of CLIPVisionModelWithProjection; we check
// their signature against the config (names, ranks, fixed sizes), then wrap them unchanged as the
// imageEncoder stage (the fp16 export as the `float16` variant). Their weights are inside the
// protobuf (or in the exporter's own external-data file), so the 128 MiB file split does not apply;
// each tensor still stays under WebGPU's binding limit (the largest is 16 MiB).
import { BundleError } from '../../base/errors.ts';
import type { ShardSink } from '../../bundle/writer.ts';
import { readAll } from '../../formats/byteSource.ts';
import { readOnnxSignature, type ValueSignature } from '../../onnx/builder.ts';
import { CLIP_MEAN, CLIP_STD } from '../preprocess.ts';
import type { CheckpointFolder } from './checkpoint.ts';
import { CLIP_VIT_L14, clipParamCount, clipTokens, type ClipVisionConfig } from './clip.ts';
import { StagePackWriter, type PackedStage, type StagePackManifest } from './stagePack.ts';

export const TRANSFORMERS_JS_CLIP = { float32: 'onnx/vision_model.onnx', float16: 'onnx/vision_model_fp16.onnx' } as const;

/** True when the folder holds a transformers.js vision export (and is packed by `packClipOnnx`). */
export async function isTransformersJsClip(folder: CheckpointFolder): Promise<boolean> {
  return (await folder.open(TRANSFORMERS_JS_CLIP.float32)) !== null;
}

function checkSignature(file: string, cfg: ClipVisionConfig, io: { inputs: ValueSignature[]; outputs: ValueSignature[] }): void {
  const want: [string, 'inputs' | 'outputs', (number | null)[]][] = [
    ['pixel_values', 'inputs', [null, 3, cfg.imageSize, cfg.imageSize]],
    ['last_hidden_state', 'outputs', [null, clipTokens(cfg), cfg.width]],
    ['image_embeds', 'outputs', [null, cfg.projectionDim]],
  ];
  for (const [name, dir, shape] of want) {
    const v = io[dir].find((x) => x.name === name);
    const expected = `${dir.slice(0, -1)} "${name}" float32 [batch, ${shape.slice(1).join(', ')}] (CLIP ${cfg.name}, CLIPVisionModelWithProjection)`;
    if (!v) throw new BundleError(file, `no ${dir.slice(0, -1)} "${name}" (has ${io[dir].map((x) => x.name).join(', ') || 'none'})`, { field: `graph.${dir}`, expected });
    // A fixed size that differs is another model; a symbolic one is accepted (exporters name dims freely).
    const bad = v.dtype !== 'float32' || v.shape.length !== shape.length || shape.some((d, i) => d !== null && typeof v.shape[i] === 'number' && v.shape[i] !== d);
    if (bad) throw new BundleError(file, `${v.dtype} [${v.shape.join(', ')}]`, { field: `graph.${dir}.${name}`, expected });
  }
}

async function readGraph(folder: CheckpointFolder, path: string, cfg: ClipVisionConfig) {
  const src = await folder.open(path);
  if (!src) return null;
  const where = `${folder.label}/${path}`;
  const bytes = await readAll(src);
  let io;
  try {
    io = readOnnxSignature(bytes);
  } catch (e) {
    throw new BundleError(where, 'not a readable ONNX model', { cause: e, expected: 'an ONNX ModelProto (truncated download?)' });
  }
  checkSignature(where, cfg, io);
  const data: { name: string; bytes: Uint8Array }[] = [];
  for (const f of io.externalFiles) {
    if (f.includes('/') || f.includes('\\')) throw new BundleError(where, `external data "${f}" is not next to the model`, { field: 'initializer.external_data.location', expected: 'a file name in the same folder' });
    const ext = await folder.open(`onnx/${f}`);
    if (!ext) throw new BundleError(`${folder.label}/onnx/${f}`, 'file not found', { expected: `the external data ${path} refers to` });
    data.push({ name: f, bytes: await readAll(ext) });
  }
  return { bytes, data };
}

/** Wraps a transformers.js CLIP vision export as a stage pack (float32, plus float16 when the folder has it). */
export async function packClipOnnx(folder: CheckpointFolder, sink: ShardSink, opts: { config?: ClipVisionConfig; command?: string; createdAt?: string } = {}): Promise<StagePackManifest> {
  const cfg = opts.config ?? CLIP_VIT_L14;
  const w = new StagePackWriter(sink);
  const graphs: Record<string, { file: string; data: string[] }> = {};
  for (const [precision, path] of Object.entries(TRANSFORMERS_JS_CLIP)) {
    const g = await readGraph(folder, path, cfg);
    if (!g) continue;
    const dir = precision === 'float32' ? 'models' : `models/${precision}`; // each export's data files keep their own names
    const file = await w.addFile(`${dir}/${path.slice('onnx/'.length)}`, g.bytes);
    const data: string[] = [];
    for (const d of g.data) data.push(await w.addFile(`${dir}/${d.name}`, d.bytes));
    graphs[precision] = { file, data };
  }
  const main = graphs.float32;
  if (!main) throw new BundleError(`${folder.label}/${TRANSFORMERS_JS_CLIP.float32}`, 'file not found', { expected: 'a transformers.js CLIP folder (onnx/vision_model.onnx)' });
  const f = (name: string, shape: (number | string)[]) => ({ name, dtype: 'float32' as const, shape });
  const stage: PackedStage = {
    file: main.file,
    data: main.data,
    ...(graphs.float16 ? { variants: { float16: graphs.float16 } } : {}),
    role: `CLIP ${cfg.name} vision tower with projection (CLIPVisionModelWithProjection), transformers.js export from ${folder.label}`,
    kind: 'real',
    inputs: { pixel_values: f('pixel_values', ['batch', 3, cfg.imageSize, cfg.imageSize]) },
    outputs: { last_hidden_state: f('last_hidden_state', ['batch', clipTokens(cfg), cfg.width]), image_embeds: f('image_embeds', ['batch', cfg.projectionDim]) },
    settings: { inputSize: cfg.imageSize, mean: CLIP_MEAN, std: CLIP_STD, config: cfg, parameters: clipParamCount(cfg).total, precision: 'float32' },
  };
  return w.finish({
    name: `CLIP ${cfg.name} (${folder.label}, transformers.js export)`,
    description: `imageEncoder stage wrapping ${Object.values(graphs).map((g) => g.file).join(' + ')} unchanged`,
    provenance: { kind: 'real', command: opts.command ?? 'packClipOnnx', createdAt: opts.createdAt ?? new Date().toISOString(), notes: 'graph exported by someone else (transformers.js / optimum); signature checked, not rebuilt' },
    stages: { imageEncoder: stage },
  });
}
