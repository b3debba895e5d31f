// The bundle manifest (format v1): one JSON file that describes every tensor of a bundle and where
// its bytes live, in the spirit of neuroglancer's "precomputed" info file. Everything else in the
// project reads a bundle through this schema, so it is the one place the format is defined.
// See docs/bundle-format.md for the prose version.
import { z } from 'zod';

export const FORMAT_NAME = 'mirage-bundle';
export const FORMAT_VERSION = 1;

export const DTYPES = ['float16', 'float32', 'uint8', 'int32', 'uint32'] as const;
export type DType = (typeof DTYPES)[number];
export const DTYPE_BYTES: Record<DType, number> = {
  float16: 2,
  float32: 4,
  uint8: 1,
  int32: 4,
  uint32: 4,
};

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits (sha256)');
// Shard paths are relative, forward-slash, and may not climb out of the bundle.
const relPath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..') && !p.includes('\\'), {
    message: 'expected a relative path inside the bundle (no "..", no leading "/")',
  });

/** One binary file of the bundle. Every byte a bundle holds is in exactly one shard. */
export const ShardSchema = z.object({
  path: relPath,
  bytes: z.number().int().nonnegative(),
  sha256: sha256Hex,
});
export type Shard = z.infer<typeof ShardSchema>;

/** A little-endian tensor stored contiguously (C order) inside a shard. */
export const TensorRefSchema = z.object({
  shard: relPath,
  offset: z.number().int().nonnegative(),
  dtype: z.enum(DTYPES),
  shape: z.array(z.number().int().nonnegative()),
});
export type TensorRef = z.infer<typeof TensorRefSchema>;

export const ProvenanceSchema = z.object({
  kind: z.enum(['simulated', 'real']),
  /** The command line that built the bundle, e.g. "mirage demo --out public/demo --seed 1". */
  command: z.string(),
  createdAt: z.string(),
  generator: z.object({ name: z.string(), version: z.string() }),
  seed: z.number().int().optional(),
  /** Input files the bundle was built from (empty for a simulated bundle). */
  sources: z.array(z.object({ path: z.string(), bytes: z.number().int().nonnegative(), sha256: sha256Hex })),
  notes: z.string().optional(),
  /** Bibliographic source of real data / published numbers. */
  citation: z.string().optional(),
});
export type Provenance = z.infer<typeof ProvenanceSchema>;

export const HEMIS = ['lh', 'rh'] as const;
export type Hemi = (typeof HEMIS)[number];

/** One hemisphere's triangulated surface; all shapes share the vertex count and the faces. */
export const SurfaceSchema = z.object({
  hemi: z.enum(HEMIS),
  vertexCount: z.number().int().positive(),
  /** int32 [nFaces, 3], indices local to this hemisphere. */
  faces: TensorRefSchema,
  /** float32 [vertexCount, 3] positions in millimetres, per shape. */
  shapes: z.object({
    folded: TensorRefSchema,
    inflated: TensorRefSchema.optional(),
    flat: TensorRefSchema.optional(),
  }),
});
export type Surface = z.infer<typeof SurfaceSchema>;

export const RoiSchema = z.object({
  name: z.string().min(1),
  /** Display colour, "#rrggbb". */
  color: z.string().regex(/^#[0-9a-fA-F]{6}$/),
  /** Grouping used by metrics: early visual (V1–hV4) or higher visual. */
  group: z.enum(['early', 'higher', 'other']),
  /** int32 [n] voxel indices (into the subject's voxel order). */
  voxels: TensorRefSchema,
});
export type Roi = z.infer<typeof RoiSchema>;

export const HEAD_NAMES = ['image', 'text', 'blurry', 'retrieval', 'prompt'] as const;
export type HeadName = (typeof HEAD_NAMES)[number];

/**
 * A reduced-rank ridge decoder: prediction = ((x_norm) · A) · B + intercept, then optional output
 * normalisation. A is [voxels, rank], B is [rank, outputSize]; stored float16 to fit in a browser.
 */
export const HeadSchema = z.object({
  name: z.enum(HEAD_NAMES),
  /** What the head's output stands for (e.g. "CLIP ViT-L/14 image embedding"). */
  role: z.string(),
  /** Logical output shape, e.g. [768] or [77, 1280]; the product is outputSize. */
  outputShape: z.array(z.number().int().positive()).min(1),
  rank: z.number().int().positive(),
  A: TensorRefSchema,
  B: TensorRefSchema,
  intercept: TensorRefSchema,
  /** Per-output mean/std of the training targets, for MIRAGE's prediction normalisation. */
  targetMean: TensorRefSchema.optional(),
  targetStd: TensorRefSchema.optional(),
  /** 'l2': betas are L2-normalised before this head (MIRAGE's retrieval head). */
  inputNorm: z.enum(['none', 'l2']),
  /** 'l2-token': each row of the last axis is L2-normalised after prediction. */
  outputNorm: z.enum(['none', 'l2-token']),
  penalty: z.number().positive(),
  /** How the penalty was chosen, e.g. "held-out tuning subjects 3,4,6,8, imagery R²". */
  penaltySource: z.string().optional(),
  fidelity: z.object({
    /** R² of compressed vs full-rank predictions on held-out trials. */
    r2: z.number(),
    trials: z.number().int().nonnegative(),
    description: z.string().optional(),
  }),
});
export type Head = z.infer<typeof HeadSchema>;

export const SubjectSchema = z.object({
  /** NSD subject number (1–8). */
  id: z.number().int().positive(),
  label: z.string(),
  /** decoded: has heads and trials; tuning: used only to choose the ridge penalty. */
  role: z.enum(['decoded', 'tuning']),
  voxelCount: z.number().int().positive(),
  /** dtype of this subject's betas in the trial shards. */
  betaDtype: z.enum(['float16', 'float32']),
  /** int32 [voxelCount, 2]: (hemisphere 0=lh 1=rh, vertex index) of each voxel's surface vertex; -1 = none. */
  voxelToVertex: TensorRefSchema.optional(),
  surfaces: z.array(SurfaceSchema),
  rois: z.array(RoiSchema),
  heads: z.array(HeadSchema),
});
export type Subject = z.infer<typeof SubjectSchema>;

export const STIMULUS_SETS = ['simple', 'complex', 'conceptual'] as const;
export type StimulusSet = (typeof STIMULUS_SETS)[number];

export const StimulusSchema = z.object({
  /** 0–17 as in NSD-Imagery. */
  id: z.number().int().nonnegative(),
  name: z.string(),
  set: z.enum(STIMULUS_SETS),
  cue: z.string().length(1),
  caption: z.string(),
  /** uint8 [H, W, 3] ground-truth image; absent for conceptual stimuli (no single image). */
  image: TensorRefSchema.optional(),
  /** uint8 [n, H, W, 3] images shown in vision trials of conceptual stimuli. */
  variants: TensorRefSchema.optional(),
});
export type Stimulus = z.infer<typeof StimulusSchema>;

export const CONDITIONS = ['vision', 'imagery', 'attention'] as const;
export type Condition = (typeof CONDITIONS)[number];

export const TrialSchema = z.object({
  subject: z.number().int().positive(),
  /** Run label as in nsdimagery_stimuli.pkl3: visA, imgA_1, attB, ... */
  run: z.string().regex(/^(vis[ABC]|img[ABC]_[12]|att[ABC])$/, 'expected a run label like visA or imgB_2'),
  stimulus: z.number().int().nonnegative(),
  condition: z.enum(CONDITIONS),
  repeat: z.number().int().nonnegative(),
  /** Where the betas are: shard + byte offset; dtype and length come from the subject. */
  betas: z.object({ shard: relPath, offset: z.number().int().nonnegative() }),
});
export type Trial = z.infer<typeof TrialSchema>;

/** Ground-truth features of the 18 stimuli (and a gallery of training images) for identification. */
export const FeatureSetSchema = z.object({
  /** e.g. "stimuli" or "gallery". */
  name: z.string(),
  head: z.enum(HEAD_NAMES),
  /** float16/float32 [n, ...outputShape]. */
  values: TensorRefSchema,
  /** Stimulus ids of the rows (for "stimuli"), or gallery image indices. */
  ids: z.array(z.number().int()),
});
export type FeatureSet = z.infer<typeof FeatureSetSchema>;

export const GallerySchema = z.object({
  /** uint8 [n, H, W, 3] thumbnails of training images. */
  images: TensorRefSchema,
  captions: z.array(z.string()),
});
export type Gallery = z.infer<typeof GallerySchema>;

/** Reconstructions made elsewhere (published methods) or by `mirage eval`. */
export const ReconstructionSetSchema = z.object({
  method: z.string(),
  subject: z.number().int().positive(),
  condition: z.enum(['vision', 'imagery']),
  stimuli: z.array(z.number().int().nonnegative()),
  /** uint8 [nStimuli, reps, H, W, 3]. */
  images: TensorRefSchema,
  captions: z.array(z.array(z.string())).optional(),
  source: z.string(),
});
export type ReconstructionSet = z.infer<typeof ReconstructionSetSchema>;

export const ManifestSchema = z.object({
  format: z.literal(FORMAT_NAME),
  version: z.literal(FORMAT_VERSION),
  name: z.string(),
  description: z.string().optional(),
  provenance: ProvenanceSchema,
  shards: z.array(ShardSchema),
  /** Image size of stimuli, gallery and reconstructions. */
  imageSize: z.number().int().positive(),
  subjects: z.array(SubjectSchema).min(1),
  stimuli: z.array(StimulusSchema),
  trials: z.array(TrialSchema),
  features: z.array(FeatureSetSchema),
  gallery: GallerySchema.optional(),
  reconstructions: z.array(ReconstructionSetSchema).optional(),
  /** Free-form extension blocks (e.g. the simulation's ground-truth encoding model). */
  extensions: z.record(z.string(), z.unknown()).optional(),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export const MANIFEST_FILE = 'manifest.json';

export function tensorElementCount(ref: Pick<TensorRef, 'shape'>): number {
  return ref.shape.reduce((a, b) => a * b, 1);
}

export function tensorByteLength(ref: Pick<TensorRef, 'shape' | 'dtype'>): number {
  return tensorElementCount(ref) * DTYPE_BYTES[ref.dtype];
}
