// `mirage pack stable-cascade`: the official Stable Cascade safetensors files (Hugging Face
// stabilityai/stable-cascade) -> one stage pack with the generator's stages: latentEncoder
// (effnet_encoder), priorDenoiser (stage C) and latentDecoder (stage B), lite or full, each a chain
// of parts when it passes `maxPartBytes`, and pixelDecoder (stage A); and the unconditional CLIP tensors as the pack's
// constants. Streaming: each stage (each part of stage C) is built by reading its tensors one at a
// time and its weight files are written before the next part reads anything, so the converter holds
// at most one part's weights (twice: the graph's initializers and the data file being assembled).
import { BundleError } from '../../../base/errors.ts';
import type { ShardSink } from '../../../bundle/writer.ts';
import { writeNpy } from '../../../tensor/npy.ts';
import type { StageName, TensorSpec } from '../../modelPack.ts';
import type { StagePart } from '../../modelPack.ts';
import { openCheckpoint, type Checkpoint, type CheckpointFolder } from '../checkpoint.ts';
import { WEBGPU_DEFAULT_LIMITS } from '../clipPack.ts';
import { addGraphFiles, StagePackWriter, type PackedStage, type StagePackManifest } from '../stagePack.ts';
import type { CascadePrecision } from './blocks.ts';
import { checkClipTextCheckpoint, CLIP_TEXT_BIGG, unconditionalFromClipText, type ClipTextConfig, type UnconditionalClip } from './clipText.ts';
import { buildEffnet, EFFNET_V2_S, effnetSettings, type EffnetConfig } from './effnet.ts';
import { bytesPerWeight, type StageBuildOptions, type StagePartGraph } from './pack.ts';
import { buildStageA, STAGE_A, type StageAConfig } from './stageA.ts';
import { buildStageB, STAGE_B_FULL, STAGE_B_LITE, stageBSignature, type StageBConfig } from './stageB.ts';
import { buildStageC, STAGE_C_FULL, STAGE_C_LITE, stageCParamCount, stageCSignature, type StageCConfig } from './stageC.ts';

export type CascadeVariant = 'lite' | 'full';

/** The official file names per stage and variant (plain, then the _bf16 release). */
export function cascadeFiles(variant: CascadeVariant): Record<CascadeStage, string[]> {
  const c = variant === 'lite' ? 'stage_c_lite' : 'stage_c';
  const b = variant === 'lite' ? 'stage_b_lite' : 'stage_b';
  return {
    latentEncoder: ['effnet_encoder.safetensors'],
    priorDenoiser: [`${c}.safetensors`, `${c}_bf16.safetensors`],
    latentDecoder: [`${b}.safetensors`, `${b}_bf16.safetensors`],
    pixelDecoder: ['stage_a.safetensors'],
  };
}

type CascadeStage = 'latentEncoder' | 'priorDenoiser' | 'latentDecoder' | 'pixelDecoder';

export type { UnconditionalClip } from './clipText.ts';

export interface CascadePackOptions {
  variant: CascadeVariant;
  /** float32, float16, or both (float32 as each stage's file, float16 as its `float16` variant). */
  precision?: CascadePrecision | 'both';
  /** Largest external-data file (default 128 MiB, WebGPU's default binding limit). */
  maxFileBytes?: number;
  /** Largest weights of one graph before a stage is cut into parts (default 1 GiB). */
  maxPartBytes?: number;
  /** Computed unconditional text tensors; zeros with a 'not computed' note when absent. */
  unconditional?: UnconditionalClip;
  /**
   * The CLIP ViT-bigG/14 text encoder (`--clip-text`): the unconditional text tensors are computed
   * from it (clipText.ts) when `unconditional` is not given; `sha256` per file, for the provenance.
   */
  clipText?: { checkpoint: Checkpoint; sha256?: Record<string, string> };
  /** Configs other than the published ones (tests at reduced size). */
  configs?: { stageC?: StageCConfig; stageB?: StageBConfig; stageA?: StageAConfig; effnet?: EffnetConfig; clipText?: ClipTextConfig };
  command?: string;
  createdAt?: string;
  onProgress?: (done: number, total: number, label: string) => void;
}

/** Weights per graph before stage C is cut: well inside the 4 GB wasm heap a session is created in. */
export const DEFAULT_MAX_PART_BYTES = 2 ** 30;

/** Opens the first present file of each stage; a missing stage names its files and the variant. */
async function openStageFiles(folder: CheckpointFolder, variant: CascadeVariant): Promise<Record<string, Checkpoint>> {
  const wanted = cascadeFiles(variant);
  const found: Record<string, string> = {};
  const missing: string[] = [];
  for (const [stage, names] of Object.entries(wanted)) {
    let hit: string | undefined;
    for (const n of names) if (!hit && (await folder.open(n))) hit = n;
    if (hit) found[stage] = hit;
    else missing.push(`${stage} (${names.join(' or ')})`);
  }
  if (missing.length) {
    throw new BundleError(folder.label, `missing for --variant ${variant}: ${missing.join(', ')}`, {
      field: '--checkpoints',
      expected: `a folder with the official Stable Cascade safetensors files (stabilityai/stable-cascade): ${Object.values(wanted)
        .map((n) => n[0])
        .join(', ')}`,
    });
  }
  const out: Record<string, Checkpoint> = {};
  for (const [stage, file] of Object.entries(found)) out[stage] = await openCheckpoint(folder, { file });
  return out;
}

interface BuiltGraphs {
  file: string;
  data: string[];
  parts?: StagePart[];
  /** The first part's inputs and outputs (a one-graph stage's signature). */
  first: Pick<StagePartGraph, 'inputs' | 'outputs'>;
  parameters: number;
}

/** Writes every part a builder yields (one at a time) and returns the stage's files. */
async function writeStage(w: StagePackWriter, parts: AsyncGenerator<StagePartGraph>, maxFileBytes: number, f16: boolean): Promise<BuiltGraphs> {
  const entries: StagePart[] = [];
  let first: BuiltGraphs['first'] | undefined;
  let parameters = 0;
  for await (const p of parts) {
    const { file, data } = await addGraphFiles(w, p.graph, `${p.base}${f16 ? '.f16' : ''}`, maxFileBytes);
    entries.push({ file, data, inputs: Object.keys(p.inputs), outputs: Object.values(p.outputs) });
    parameters += p.parameters;
    // Keep only the first part's signature: no graph (and no weights) outlives its files.
    first ??= { inputs: p.inputs, outputs: p.outputs };
  }
  if (!first) throw new Error('stage builder yielded no graph');
  const [one] = entries;
  return { file: one.file, data: one.data ?? [], ...(entries.length > 1 ? { parts: entries } : {}), first, parameters };
}

/** Builds the pack; the checkpoint folder must hold the variant's files (cascadeFiles). */
export async function packStableCascade(folder: CheckpointFolder, sink: ShardSink, opts: CascadePackOptions): Promise<StagePackManifest> {
  const cks = await openStageFiles(folder, opts.variant);
  const cfgT = opts.configs?.clipText ?? CLIP_TEXT_BIGG;
  // A wrong text encoder is named before any stage is built; the tower runs once, before the stages.
  if (opts.clipText) checkClipTextCheckpoint(opts.clipText.checkpoint, cfgT);
  const u = opts.unconditional ?? (opts.clipText ? await unconditionalFromClipText(opts.clipText.checkpoint, cfgT, opts.clipText.sha256) : undefined);
  const maxFileBytes = opts.maxFileBytes ?? WEBGPU_DEFAULT_LIMITS.maxStorageBufferBindingSize;
  const maxPartBytes = opts.maxPartBytes ?? DEFAULT_MAX_PART_BYTES;
  const precisions: CascadePrecision[] = opts.precision === 'both' ? ['float32', 'float16'] : [opts.precision ?? 'float32'];
  const cfgC = opts.configs?.stageC ?? (opts.variant === 'lite' ? STAGE_C_LITE : STAGE_C_FULL);
  const cfgB = opts.configs?.stageB ?? (opts.variant === 'lite' ? STAGE_B_LITE : STAGE_B_FULL);
  const cfgA = opts.configs?.stageA ?? STAGE_A;
  const cfgE = opts.configs?.effnet ?? EFFNET_V2_S;
  const total = [...Object.values(cks)].reduce((a, ck) => a + ck.tensors.size, 0) * precisions.length;
  let done = 0;
  const onTensor: StageBuildOptions['onTensor'] = (key) => opts.onProgress?.(++done, total, key);
  const w = new StagePackWriter(sink);
  const builders: Record<CascadeStage, (o: StageBuildOptions) => AsyncGenerator<StagePartGraph>> = {
    latentEncoder: (o) => buildEffnet(cks.latentEncoder, cfgE, o),
    priorDenoiser: (o) => buildStageC(cks.priorDenoiser, cfgC, o),
    latentDecoder: (o) => buildStageB(cks.latentDecoder, cfgB, o),
    pixelDecoder: (o) => buildStageA(cks.pixelDecoder, cfgA, o),
  };
  const roles: Record<string, string> = {
    latentEncoder: `Stable Cascade EfficientNetV2-S encoder (${cks.latentEncoder.label})`,
    priorDenoiser: `${cfgC.name} (${cks.priorDenoiser.label})`,
    latentDecoder: `${cfgB.name} (${cks.latentDecoder.label})`,
    pixelDecoder: `Stable Cascade stage A decoder (${cks.pixelDecoder.label})`,
  };
  const stages: Partial<Record<StageName, PackedStage>> = {};
  for (const stage of Object.keys(builders) as (keyof typeof builders)[]) {
    const builds: { precision: CascadePrecision; g: BuiltGraphs }[] = [];
    for (const precision of precisions) {
      // Stages C and B are cut; the others refuse a limit below their size, so give them none.
      const limit = stage === 'priorDenoiser' || stage === 'latentDecoder' ? maxPartBytes : undefined;
      builds.push({ precision, g: await writeStage(w, builders[stage]({ precision, maxPartBytes: limit, onTensor }), maxFileBytes, precision === 'float16') });
    }
    const [main, ...others] = builds;
    const sig: { inputs: Record<string, TensorSpec>; outputs: Record<string, TensorSpec> } =
      stage === 'priorDenoiser' ? stageCSignature(cfgC) : stage === 'latentDecoder' ? stageBSignature(cfgB) : { inputs: main.g.first.inputs, outputs: main.g.first.outputs };
    stages[stage] = {
      file: main.g.file,
      data: main.g.data,
      ...(main.g.parts ? { parts: main.g.parts } : {}),
      ...(others.length ? { variants: Object.fromEntries(others.map((o) => [o.precision, { file: o.g.file, data: o.g.data, ...(o.g.parts ? { parts: o.g.parts } : {}) }])) } : {}),
      role: roles[stage],
      kind: 'real',
      ...sig,
      settings: {
        ...(stage === 'latentEncoder' ? effnetSettings(cfgE) : {}),
        ...(stage === 'priorDenoiser' ? { config: cfgC, variant: opts.variant, parts: main.g.parts?.length ?? 1, maxPartBytes } : {}),
        ...(stage === 'latentDecoder' ? { config: cfgB, variant: opts.variant, parts: main.g.parts?.length ?? 1, maxPartBytes } : {}),
        parameters: main.g.parameters,
        precision: main.precision,
        checkpoint: cks[stage].files.join(', '),
      },
    };
  }
  // The unconditional conditioning: clip_img is zeros by definition (get_conditions with
  // is_unconditional); the text ones are the empty prompt's encodings when computed.
  const [tokens, width, pooledWidth] = [cfgT.positions, cfgT.width, cfgT.projectionDim];
  if (u && (u.clipText.length !== tokens * width || u.clipTextPooled.length !== pooledWidth)) {
    throw new RangeError(`unconditional CLIP text: ${u.clipText.length} and ${u.clipTextPooled.length} values (expected [${tokens}, ${width}] and [1, ${pooledWidth}])`);
  }
  const unconditional = {
    clipImg: await w.addFile('cond/uncond_clip_img.npy', writeNpy(new Float32Array(cfgC.cClipImg), [1, cfgC.cClipImg], '<f4')),
    clipText: await w.addFile('cond/uncond_clip_text.npy', writeNpy(u?.clipText ?? new Float32Array(tokens * width), [tokens, width], '<f4')),
    clipTextPooled: await w.addFile('cond/uncond_clip_text_pooled.npy', writeNpy(u?.clipTextPooled ?? new Float32Array(pooledWidth), [1, pooledWidth], '<f4')),
    computed: Boolean(u),
    source: u ? u.source : 'not computed: zeros (no CLIP ViT-bigG/14 text encoder was given: --clip-text)',
  };
  const paramsC = stageCParamCount(cfgC);
  return w.finish({
    name: `Stable Cascade ${opts.variant} (${folder.label})`,
    description: `latentEncoder, priorDenoiser (${paramsC} parameters in ${stages.priorDenoiser?.parts?.length ?? 1} part(s) of at most ${maxPartBytes} bytes at ${precisions[0]}, ${bytesPerWeight(precisions[0]) * paramsC} bytes), latentDecoder (${stages.latentDecoder?.parts?.length ?? 1} part(s)), pixelDecoder; ${precisions.join(' + ')}; weight files of at most ${maxFileBytes} bytes`,
    provenance: {
      kind: 'real',
      command: opts.command ?? 'packStableCascade',
      createdAt: opts.createdAt ?? new Date().toISOString(),
      notes: `checkpoint files: ${Object.values(cks)
        .flatMap((c) => c.files)
        .join(', ')}; unconditional text: ${unconditional.source}`,
    },
    stages,
    unconditional,
  });
}
