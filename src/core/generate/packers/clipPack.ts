// `mirage pack clip`: a CLIP vision checkpoint -> a stage pack with the `imageEncoder` stage
// (docs/model-packs.md, "CLIP ViT-L/14"). Weights go to ONNX external-data files of at most
// 128 MiB, WebGPU's default maxStorageBufferBindingSize (and half its default maxBufferSize), so
// each file can be fetched, cached and uploaded on its own; the .onnx file holds only the graph.
import type { ShardSink } from '../../bundle/writer.ts';
import type { StageSpec } from '../modelPack.ts';
import type { Checkpoint } from './checkpoint.ts';
import { CLIP_MEAN, CLIP_STD } from '../preprocess.ts';
import { buildClipVisionGraph, CLIP_VIT_L14, clipParamCount, clipTokens, type ClipGraphProgress, type ClipPrecision, type ClipVisionConfig } from './clip.ts';
import { addPrecisionGraphs, StagePackWriter, type PackedStage, type StagePackManifest } from './stagePack.ts';

/** WebGPU's default limits (the spec's defaults, what an adapter grants without asking). */
export const WEBGPU_DEFAULT_LIMITS = { maxStorageBufferBindingSize: 128 * 1024 * 1024, maxBufferSize: 256 * 1024 * 1024 };

export interface ClipPackOptions {
  config?: ClipVisionConfig;
  /** Largest external-data file (default WebGPU's maxStorageBufferBindingSize, 128 MiB). */
  maxFileBytes?: number;
  /** float32 (default), float16, or both in one pack (float32 as the stage's file, float16 as its `float16` variant). */
  precision?: ClipPrecision | 'both';
  /** The command line, for the provenance. */
  command?: string;
  createdAt?: string;
  onProgress?: ClipGraphProgress;
}

export async function packClip(ck: Checkpoint, sink: ShardSink, opts: ClipPackOptions = {}): Promise<StagePackManifest> {
  const cfg = opts.config ?? CLIP_VIT_L14;
  const maxFileBytes = opts.maxFileBytes ?? WEBGPU_DEFAULT_LIMITS.maxStorageBufferBindingSize;
  const w = new StagePackWriter(sink);
  const { precisions, files } = await addPrecisionGraphs(
    w,
    (precision) => buildClipVisionGraph(ck, cfg, { precision, onProgress: opts.onProgress && ((d, t, l) => opts.onProgress?.(d, t, `${precision} ${l}`)) }),
    `clip_${cfg.name.replace(/[^A-Za-z0-9]/g, '').toLowerCase()}`,
    opts.precision ?? 'float32',
    maxFileBytes,
  );
  const tokens = clipTokens(cfg);
  const params = clipParamCount(cfg);
  const stage: PackedStage & StageSpec = {
    ...files,
    role: `CLIP ${cfg.name} vision tower with projection (CLIPVisionModelWithProjection), built from ${ck.label}`,
    kind: 'real',
    inputs: { pixel_values: { name: 'pixel_values', dtype: 'float32', shape: ['batch', 3, cfg.imageSize, cfg.imageSize] } },
    outputs: {
      last_hidden_state: { name: 'last_hidden_state', dtype: 'float32', shape: ['batch', tokens, cfg.width] },
      image_embeds: { name: 'image_embeds', dtype: 'float32', shape: ['batch', cfg.projectionDim] },
    },
    settings: { inputSize: cfg.imageSize, mean: CLIP_MEAN, std: CLIP_STD, config: cfg, parameters: params.total, precision: precisions[0] },
  };
  return w.finish({
    name: `CLIP ${cfg.name} (${ck.label})`,
    description: `imageEncoder stage: ${params.total} parameters, ${precisions.map((p, i) => `${p} (${(i === 0 ? files.data : (files.variants?.[p].data ?? [])).length} weight files)`).join(' + ')}, weight files of at most ${maxFileBytes} bytes`,
    provenance: { kind: 'real', command: opts.command ?? 'packClip', createdAt: opts.createdAt ?? new Date().toISOString(), notes: `checkpoint files: ${ck.files.join(', ')}` },
    stages: { imageEncoder: stage },
  });
}
