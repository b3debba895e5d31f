// Encoding-model packs (GNet's role in MIRAGE's brain correlation): `encodingpack.json` plus one ONNX
// graph that maps an image to the predicted betas of ONE subject's voxels, in the order of that
// subject's voxel mask in the bundle (nsdgeneral for real NSD bundles). Loaded through a ShardSource
// and verified (size + sha256) with the same provenance/file schema as model and metric packs.
//
// GNet (St-Yves et al. 2023; the `GNet8_Encoder` MindEye2 and MIRAGE call) takes float32 NCHW
// [batch, 3, 227, 227], RGB in [0, 1]: each image is converted to a uint8 PIL image, resized to
// 227x227 with LANCZOS, divided by 255; the network subtracts its training input mean internally.
// It returns [batch, nv] with nv the subject's nsdgeneral voxel count (subject 1: 15724).
// `preprocess.resample: "pil-lanczos"` reproduces that exactly: the image goes to uint8, then
// through Pillow's LANCZOS resampler (src/core/generate/enhance.ts, byte-identical to Pillow, checked
// against test/fixtures/evaluate/gnet_preprocess.json), then /255. The default "bilinear" is torch's
// antialiased bilinear resize (what the stand-in's numpy/torch fixture uses). The manifest carries the
// size, the resampler, the uint8 rounding and mean/std so another encoder (or an export with a
// different input size) plugs in by editing the manifest only.
import { z } from 'zod';
import { BundleError } from '../base/errors.ts';
import type { Manifest } from '../bundle/manifest.ts';
import { packManifestSchema, PackFileWriter, PackPathSchema, parsePackManifest, readPackFiles, readPackJson, requireListed, TensorSpecSchema, type PackReadOptions } from '../bundle/pack.ts';
import type { ShardSource } from '../bundle/source.ts';
import type { ShardSink } from '../bundle/writer.ts';
import { GraphBuilder } from '../onnx/builder.ts';
import { readNpy, writeNpy } from '../tensor/npy.ts';
import { brainCorrelations, brainSets, type BrainSet, type RoiVoxels } from './brainCorrelation.ts';
import type { FeatureRunner } from './featurePacks.ts';
import { toRgb, type FloatImage } from './image.ts';
import { resizeBilinear } from './resize.ts';
import { resizeLanczos } from '../base/image.ts';

export const ENCODING_PACK_FORMAT = 'mirage-encoding-pack';
export const ENCODING_PACK_VERSION = 1;
export const ENCODING_PACK_MANIFEST = 'encodingpack.json';
/** GNet's input side (MindEye2 utils.GNet8_Encoder: `w, h = 227, 227`). */
export const GNET_INPUT_SIZE = 227;
/** nsdgeneral voxel counts of NSD subjects 1..8 (GNet8_Encoder's subject_sizes). */
export const NSD_NSDGENERAL_VOXELS = [15724, 14278, 15226, 13153, 13039, 17907, 12682, 14386] as const;

export const EncodingPreprocessSchema = z.object({
  /** exact resize to height x width (GNet: 227 x 227, not aspect-preserving) */
  height: z.number().int().positive(),
  width: z.number().int().positive(),
  antialias: z.boolean(),
  /**
   * "bilinear" (default): torch bilinear (antialias as above) on float pixels; "pil-lanczos": GNet's
   * own path, uint8 image -> Pillow LANCZOS -> /255 (byte-exact with Pillow).
   */
  resample: z.enum(['bilinear', 'pil-lanczos']).optional(),
  /** round to 1/255 steps after resizing (GNet goes through a uint8 PIL image) */
  quantize: z.boolean(),
  mean: z.array(z.number()).length(3),
  std: z.array(z.number().positive()).length(3),
  /** what the original encoder's own preprocessing used, when ours differs (e.g. "PIL LANCZOS") */
  referenceResample: z.string().optional(),
});
export type EncodingPreprocess = z.infer<typeof EncodingPreprocessSchema>;

const RoiGroupSchema = z.object({ name: z.string(), group: z.enum(['early', 'higher', 'other']) });

export const EncodingPackSchema = packManifestSchema(ENCODING_PACK_FORMAT, ENCODING_PACK_VERSION, {
  /** NSD subject whose voxels the model predicts */
  subject: z.number().int().positive(),
  /** voxels predicted, in the subject's mask order; must equal the bundle subject's voxelCount */
  voxelCount: z.number().int().positive(),
  model: z.object({
    file: PackPathSchema,
    role: z.string(),
    kind: z.enum(['real', 'stand-in', 'simulated']),
    input: TensorSpecSchema,
    output: TensorSpecSchema,
  }),
  preprocess: EncodingPreprocessSchema,
  /**
   * Which ROI each voxel belongs to: the bundle subject's own ROIs ("bundle"), or a uint8 .npy
   * [voxelCount] in the pack holding an index into `groups` per voxel ("pack").
   */
  rois: z.discriminatedUnion('source', [
    z.object({ source: z.literal('bundle') }),
    z.object({ source: z.literal('pack'), file: PackPathSchema, groups: z.array(RoiGroupSchema).min(1) }),
  ]),
});
export type EncodingPackManifest = z.infer<typeof EncodingPackSchema>;

export function parseEncodingPack(json: unknown, file = ENCODING_PACK_MANIFEST): EncodingPackManifest {
  const m = parsePackManifest(EncodingPackSchema, json, file);
  requireListed(m.files, file, [[m.model.file, 'model.file'], ...(m.rois.source === 'pack' ? [[m.rois.file, 'rois.file'] as const] : [])]);
  const inS = m.model.input.shape;
  if (inS.length !== 4 || inS[1] !== 3) throw new BundleError(file, `input shape [${inS.join(', ')}]`, { field: 'model.input.shape', expected: '[batch, 3, H, W]' });
  const fixed = (d: number | string, want: number) => typeof d === 'string' || d === want;
  if (!fixed(inS[2], m.preprocess.height) || !fixed(inS[3], m.preprocess.width)) {
    throw new BundleError(file, `input shape [${inS.join(', ')}] disagrees with preprocess ${m.preprocess.height}x${m.preprocess.width}`, {
      field: 'model.input.shape',
      expected: `[batch, 3, ${m.preprocess.height}, ${m.preprocess.width}]`,
    });
  }
  const outS = m.model.output.shape;
  if (outS.length !== 2 || !fixed(outS[1], m.voxelCount)) {
    throw new BundleError(file, `output shape [${outS.join(', ')}]`, { field: 'model.output.shape', expected: `[batch, ${m.voxelCount}] (voxelCount)` });
  }
  return m;
}

export interface LoadedEncodingPack {
  manifest: EncodingPackManifest;
  /** where it was read from, for messages */
  label: string;
  onnx: Uint8Array;
  /** per-voxel ROI sets from the pack (rois.source "pack"), else null (use the bundle's) */
  rois: RoiVoxels[] | null;
}

/** Reads and verifies an encoding-model pack (byte progress over its graph and ROI file). */
export async function loadEncodingPack(source: ShardSource, opts: PackReadOptions = {}): Promise<LoadedEncodingPack> {
  const mfile = `${source.label}/${ENCODING_PACK_MANIFEST}`;
  const manifest = parseEncodingPack(await readPackJson(source, ENCODING_PACK_MANIFEST, 'an encodingpack.json', opts.signal), mfile);
  const bytes = await readPackFiles(source, manifest.files, [manifest.model.file, ...(manifest.rois.source === 'pack' ? [manifest.rois.file] : [])], opts);
  const onnx = bytes.get(manifest.model.file)!;
  let rois: RoiVoxels[] | null = null;
  if (manifest.rois.source === 'pack') {
    const where = `${source.label}/${manifest.rois.file}`;
    const arr = readNpy(bytes.get(manifest.rois.file)!, where);
    if (arr.shape.length !== 1 || arr.shape[0] !== manifest.voxelCount) {
      throw new BundleError(where, `shape [${arr.shape.join(', ')}]`, { field: 'rois.file', expected: `[${manifest.voxelCount}] (one ROI index per voxel)` });
    }
    const groups = manifest.rois.groups;
    const members: number[][] = groups.map(() => []);
    const data = arr.data as ArrayLike<number>;
    for (let v = 0; v < data.length; v++) {
      const g = Number(data[v]);
      if (!(g >= 0 && g < groups.length)) throw new BundleError(where, `voxel ${v} has ROI index ${g}`, { field: 'rois.file', expected: `0..${groups.length - 1} (rois.groups)` });
      members[g].push(v);
    }
    rois = groups.map((g, i) => ({ group: g.group, voxels: Int32Array.from(members[i]) }));
  }
  return { manifest, label: source.label, onnx, rois };
}

/** Checks a pack against the bundle subject it predicts: same subject, same voxel count (mask). */
export function checkEncodingPackForBundle(pack: LoadedEncodingPack, manifest: Pick<Manifest, 'subjects'>, bundleLabel = 'bundle'): void {
  const file = `${pack.label}/${ENCODING_PACK_MANIFEST}`;
  const subj = manifest.subjects.find((s) => s.id === pack.manifest.subject);
  if (!subj) {
    throw new BundleError(file, `subject ${pack.manifest.subject} is not in ${bundleLabel}`, { field: 'subject', expected: `one of ${manifest.subjects.map((s) => s.id).join(', ')}` });
  }
  if (subj.voxelCount !== pack.manifest.voxelCount) {
    throw new BundleError(file, `predicts ${pack.manifest.voxelCount} voxels but subject ${subj.id} of ${bundleLabel} has ${subj.voxelCount} in its mask`, {
      field: 'voxelCount',
      expected: String(subj.voxelCount),
    });
  }
}

/** GNet's resize: to a uint8 RGB image (rounded), Pillow's LANCZOS to the pack's size, back to [0, 1]. */
function lanczosLikePil(img: FloatImage, p: EncodingPreprocess): FloatImage {
  const rgb = toRgb(img);
  const bytes = new Uint8Array(rgb.data.length);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.min(255, Math.max(0, Math.round(rgb.data[i] * 255)));
  const src = { width: rgb.width, height: rgb.height, data: bytes };
  const out = rgb.width === p.width && rgb.height === p.height ? src : resizeLanczos(src, p.width, p.height);
  const data = new Float32Array(out.data.length);
  for (let i = 0; i < data.length; i++) data[i] = out.data[i] / 255;
  return { data, width: p.width, height: p.height, channels: 3 };
}

/** Resize + optional uint8 rounding + Normalize -> CHW float32 at the pack's input size. */
export function preprocessForEncoding(img: FloatImage, p: EncodingPreprocess): Float32Array {
  const r = p.resample === 'pil-lanczos' ? lanczosLikePil(img, p) : toRgb(img.width === p.width && img.height === p.height ? img : resizeBilinear(img, p.height, p.width, { antialias: p.antialias }));
  const n = p.width * p.height;
  const out = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) {
    const m = p.mean[c];
    const s = p.std[c];
    for (let i = 0; i < n; i++) {
      let x = r.data[i * 3 + c];
      if (p.quantize) x = Math.min(255, Math.max(0, Math.round(x * 255))) / 255;
      out[c * n + i] = (x - m) / s;
    }
  }
  return out;
}

/** Predicted betas [voxelCount] of one image; checks the graph's output against the manifest. */
export async function predictBetas(pack: Pick<LoadedEncodingPack, 'manifest' | 'label'>, run: FeatureRunner, img: FloatImage): Promise<Float32Array> {
  const { preprocess: p, voxelCount } = pack.manifest;
  const res = await run(preprocessForEncoding(img, p), [1, 3, p.height, p.width]);
  if (res.data.length !== voxelCount) {
    throw new BundleError(`${pack.label}/${pack.manifest.model.file}`, `the graph returned ${res.data.length} values for one image`, {
      field: 'model.output.shape',
      expected: `${voxelCount} (voxelCount)`,
    });
  }
  return res.data;
}

/** Pearson r per ROI set (early, higher, all) between the pack's prediction for `img` and `measured`. */
export async function encodingPackCorrelations(
  pack: Pick<LoadedEncodingPack, 'manifest' | 'label'>,
  run: FeatureRunner,
  img: FloatImage,
  measured: ArrayLike<number>,
  sets: Record<BrainSet, Int32Array>,
): Promise<Record<BrainSet, number>> {
  return brainCorrelations(await predictBetas(pack, run, img), measured, sets);
}

/** ROI sets for a pack: its own per-voxel ROIs, or the bundle subject's. */
export function encodingPackSets(pack: LoadedEncodingPack, bundleRois: RoiVoxels[] | null): Record<BrainSet, Int32Array> {
  const rois = pack.rois ?? bundleRois;
  if (!rois) {
    throw new BundleError(`${pack.label}/${ENCODING_PACK_MANIFEST}`, 'rois.source is "bundle" but no bundle ROIs were given', { field: 'rois.source' });
  }
  return brainSets(rois, pack.manifest.voxelCount);
}

// ---- stand-in pack --------------------------------------------------------------------------------

/** Weight of pooled input feature i for voxel v in the stand-in graph (a closed form, so Python can rebuild it). */
export function standInEncodingWeight(seed: number, i: number, v: number): number {
  return 0.1 * Math.sin(seed + 0.37 * i + 0.0113 * v);
}
export function standInEncodingBias(seed: number, v: number): number {
  return 0.01 * Math.cos(seed + 0.5 * v);
}
/** ROI index of voxel v in the stand-in pack's own ROI file: 0 early, 1 higher, 2 other. */
export function standInEncodingRoi(v: number): number {
  const k = v % 5;
  return k < 2 ? 0 : k < 4 ? 1 : 2;
}
/** The stand-in graph pools the input to this grid before its linear readout. */
export const STAND_IN_ENCODING_GRID = 8;

/**
 * A stand-in encoding graph at GNet's signature: average pooling of the normalised image to an 8x8
 * grid (3 x 64 = 192 features), then a linear readout to every voxel. NOT GNet: it has no learned
 * features; it exists so the whole path (loading, checks, ROI sets, correlations) runs at real shapes.
 */
export function standInEncodingGraph(voxelCount: number, size: number, seed: number): GraphBuilder {
  const G = STAND_IN_ENCODING_GRID;
  const stride = Math.floor(size / G);
  const kernel = size - (G - 1) * stride;
  const nIn = 3 * G * G;
  const W = new Float32Array(nIn * voxelCount);
  for (let i = 0; i < nIn; i++) for (let v = 0; v < voxelCount; v++) W[i * voxelCount + v] = standInEncodingWeight(seed, i, v);
  const b = Float32Array.from({ length: voxelCount }, (_, v) => standInEncodingBias(seed, v));
  const g = new GraphBuilder('encoding_standin');
  g.metadata.standsInFor = 'GNet (NSD-Imagery encoding model), stand-in at the real shapes';
  g.input('images', 'float32', ['batch', 3, size, size]);
  g.output('betas', 'float32', ['batch', voxelCount]);
  const pooled = g.op('AveragePool', ['images'], { kernel_shape: [kernel, kernel], strides: [stride, stride] });
  const flat = g.op('Reshape', [pooled, g.int64s([0, -1])]);
  const mm = g.op('MatMul', [flat, g.floats(W, [nIn, voxelCount], 'readout')]);
  g.node('Add', [mm, g.floats(b, [voxelCount], 'bias')], ['betas']);
  return g;
}

/** Writes a stand-in encoding pack (default: subject 1's 15724 voxels, GNet's 227 px input). */
export async function buildStandInEncodingPack(
  sink: ShardSink,
  opts: { subject?: number; voxelCount?: number; size?: number; seed?: number; rois?: 'bundle' | 'pack'; command?: string } = {},
): Promise<EncodingPackManifest> {
  const subject = opts.subject ?? 1;
  const voxelCount = opts.voxelCount ?? NSD_NSDGENERAL_VOXELS[subject - 1] ?? NSD_NSDGENERAL_VOXELS[0];
  const size = opts.size ?? GNET_INPUT_SIZE;
  const seed = opts.seed ?? 1;
  const out = new PackFileWriter(sink);
  await out.add('encoder.onnx', standInEncodingGraph(voxelCount, size, seed).toBytes());
  let rois: EncodingPackManifest['rois'] = { source: 'bundle' };
  if (opts.rois === 'pack') {
    await out.add('rois.npy', writeNpy(Uint8Array.from({ length: voxelCount }, (_, v) => standInEncodingRoi(v)), [voxelCount], '|u1'));
    rois = {
      source: 'pack',
      file: 'rois.npy',
      groups: [
        { name: 'early visual (V1–hV4), stand-in', group: 'early' },
        { name: 'higher visual, stand-in', group: 'higher' },
        { name: 'other nsdgeneral, stand-in', group: 'other' },
      ],
    };
  }
  const manifest = parseEncodingPack({
    format: ENCODING_PACK_FORMAT,
    version: ENCODING_PACK_VERSION,
    name: 'stand-in encoding pack',
    description: 'A stand-in for GNet at its real input/output shapes (pooled image -> linear readout). Brain correlations made with it are NOT comparable to published numbers.',
    provenance: { kind: 'stand-in', command: opts.command ?? 'buildStandInEncodingPack', createdAt: new Date().toISOString(), notes: `seed ${seed}` },
    files: out.files,
    subject,
    voxelCount,
    model: {
      file: 'encoder.onnx',
      role: 'GNet (St-Yves et al. 2023) stand-in',
      kind: 'stand-in',
      input: { name: 'images', dtype: 'float32', shape: ['batch', 3, size, size] },
      output: { name: 'betas', dtype: 'float32', shape: ['batch', voxelCount] },
    },
    preprocess: { height: size, width: size, antialias: true, quantize: true, mean: [0, 0, 0], std: [1, 1, 1], referenceResample: 'PIL LANCZOS (GNet8_Encoder); bilinear antialiased here' },
    rois,
  } satisfies EncodingPackManifest);
  await out.writeManifest(ENCODING_PACK_MANIFEST, manifest, 2);
  return manifest;
}
