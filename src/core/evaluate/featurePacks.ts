// Feature-network metric packs: a manifest (metricpack.json) plus one ONNX graph per network, loaded
// through a ShardSource like model packs and bundles, every file checked against size and sha256.
// Each network's preprocessing is written down exactly as MIRAGE's evaluation script does it
// (docs/metrics.md): torchvision Resize(int, BILINEAR) of the 512x512 images (shorter edge; no
// centre crop) then Normalize(mean, std), NCHW float32. Stand-in graphs with the real input and
// output shapes are built by `buildStandInMetricPack` so that the whole path runs without the real
// weights; the manifest says `kind: 'stand-in'` and the tables must say so.
import { z } from 'zod';
import { AbortError, BundleError } from '../base/errors.ts';
import { packManifestSchema, PackFileWriter, PackPathSchema as relPath, parsePackManifest, readPackFiles, readPackJson, requireListed, TensorSpecSchema, type PackReadOptions, type TensorSpec } from '../bundle/pack.ts';
import type { ShardSource } from '../bundle/source.ts';
import type { ShardSink } from '../bundle/writer.ts';
import { conv2d, GraphBuilder } from '../onnx/builder.ts';
import type { Matrix } from '../tensor/matrix.ts';
import { matrix } from '../tensor/matrix.ts';
import type { FloatImage } from './image.ts';
import { toRgb } from './image.ts';
import { rowCorrelationDistances, twoWayIdentification } from './identification.ts';
import type { IdentificationVariant } from './identification.ts';
import { mulberry32 } from '../base/rng.ts';
import { resizeShorterEdge } from './resize.ts';

export const METRIC_PACK_FORMAT = 'mirage-metric-pack';
export const METRIC_PACK_VERSION = 1;
export const METRIC_PACK_MANIFEST = 'metricpack.json';

export const FEATURE_NETWORKS = ['alex2', 'alex5', 'incep', 'clip', 'eff', 'swav'] as const;
export type FeatureNetwork = (typeof FEATURE_NETWORKS)[number];

export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

export const PreprocessSchema = z.object({
  /** torchvision Resize(int): shorter edge to this many pixels, bilinear. */
  resize: z.number().int().positive(),
  antialias: z.boolean(),
  mean: z.array(z.number()).length(3),
  std: z.array(z.number().positive()).length(3),
});
export type Preprocess = z.infer<typeof PreprocessSchema>;

export interface FeatureNetworkReference {
  /** the real network and layer */
  role: string;
  /** torchvision feature-extractor node (or the CLIP call) */
  layer: string;
  use: 'identification' | 'distance';
  preprocess: Preprocess;
  /** input/output shapes for a 512x512 evaluation image (batch first, symbolic) */
  inputShape: (number | string)[];
  outputShape: (number | string)[];
  notes: string;
}

const pre = (resize: number, mean = IMAGENET_MEAN, std = IMAGENET_STD): Preprocess => ({ resize, antialias: true, mean, std });

/** How a network is used, and its input: the shorter edge resized to `size`, an NCHW [batch, 3, size, size] batch. */
const input = (use: FeatureNetworkReference['use'], size: number, mean?: number[], std?: number[]) => ({
  use,
  preprocess: pre(size, mean, std),
  inputShape: ['batch', 3, size, size],
});
const ALEXNET = 'AlexNet (torchvision, IMAGENET1K_V1)';

/** The reference networks, as MIRAGE's final_evaluations script sets them up. */
export const FEATURE_NETWORK_REFERENCE: Record<FeatureNetwork, FeatureNetworkReference> = {
  alex2: {
    role: ALEXNET,
    layer: 'features.4',
    ...input('identification', 256),
    outputShape: ['batch', 192, 31, 31],
    notes: 'ReLU after conv2; flattened for two-way identification',
  },
  alex5: {
    role: ALEXNET,
    layer: 'features.11',
    ...input('identification', 256),
    outputShape: ['batch', 256, 15, 15],
    notes: 'ReLU after conv5',
  },
  incep: {
    role: 'InceptionV3 (torchvision, Inception_V3_Weights.DEFAULT)',
    layer: 'avgpool',
    ...input('identification', 342),
    outputShape: ['batch', 2048, 1, 1],
    notes: 'the pretrained model has transform_input=True: it re-maps ImageNet-normalised input to its own normalisation internally (part of the graph, not of this preprocessing)',
  },
  clip: {
    role: 'CLIP ViT-L/14 (openai clip package)',
    layer: 'encode_image',
    ...input('identification', 224, CLIP_MEAN, CLIP_STD),
    outputShape: ['batch', 768],
    notes: "projected image embedding; the reference uses its own Resize(224)+Normalize, not CLIP's preprocess (no centre crop)",
  },
  eff: {
    role: 'EfficientNet-B1 (torchvision, EfficientNet_B1_Weights.DEFAULT)',
    layer: 'avgpool',
    ...input('distance', 255),
    outputShape: ['batch', 1280, 1, 1],
    notes: 'correlation distance per sample (lower is better)',
  },
  swav: {
    role: 'SwAV ResNet-50 (facebookresearch/swav torch.hub)',
    layer: 'avgpool',
    ...input('distance', 224),
    outputShape: ['batch', 2048, 1, 1],
    notes: 'correlation distance per sample (lower is better)',
  },
};

export const NetworkSpecSchema = z.object({
  file: relPath,
  role: z.string(),
  layer: z.string(),
  kind: z.enum(['real', 'stand-in', 'simulated']),
  use: z.enum(['identification', 'distance']),
  preprocess: PreprocessSchema,
  input: TensorSpecSchema,
  output: TensorSpecSchema,
});
export type NetworkSpec = z.infer<typeof NetworkSpecSchema>;

export const MetricPackSchema = packManifestSchema(METRIC_PACK_FORMAT, METRIC_PACK_VERSION, {
  /** Any subset of the six networks; metrics of missing networks are left out of the tables. */
  networks: z.object({
    alex2: NetworkSpecSchema.optional(),
    alex5: NetworkSpecSchema.optional(),
    incep: NetworkSpecSchema.optional(),
    clip: NetworkSpecSchema.optional(),
    eff: NetworkSpecSchema.optional(),
    swav: NetworkSpecSchema.optional(),
  }),
});
export type MetricPackManifest = z.infer<typeof MetricPackSchema>;

export function parseMetricPack(json: unknown, file = METRIC_PACK_MANIFEST): MetricPackManifest {
  const m = parsePackManifest(MetricPackSchema, json, file);
  const nets = Object.entries(m.networks).flatMap(([name, spec]) => (spec ? [[name, spec] as const] : []));
  requireListed(m.files, file, nets.map(([name, spec]) => [spec.file, `networks.${name}.file`] as const));
  for (const [name, spec] of nets) {
    if (spec.input.shape.length !== 4 || spec.input.shape[1] !== 3) {
      throw new BundleError(file, `input shape [${spec.input.shape.join(', ')}]`, { field: `networks.${name}.input.shape`, expected: '[batch, 3, H, W]' });
    }
  }
  return m;
}

export interface LoadedMetricPack {
  manifest: MetricPackManifest;
  onnx: Partial<Record<FeatureNetwork, Uint8Array>>;
}

/** Reads and verifies a metric pack (the networks it has; byte progress over their files). */
export async function loadMetricPack(source: ShardSource, opts: PackReadOptions = {}): Promise<LoadedMetricPack> {
  const file = `${source.label}/${METRIC_PACK_MANIFEST}`;
  const manifest = parseMetricPack(await readPackJson(source, METRIC_PACK_MANIFEST, 'a metric pack manifest', opts.signal), file);
  const nets = FEATURE_NETWORKS.filter((n) => manifest.networks[n]);
  const bytes = await readPackFiles(source, manifest.files, nets.map((n) => manifest.networks[n]!.file), opts);
  return { manifest, onnx: Object.fromEntries(nets.map((n) => [n, bytes.get(manifest.networks[n]!.file)!])) };
}

/** Resize (shorter edge, bilinear, antialias as specified) + Normalize -> CHW float32. */
export function preprocessForNetwork(img: FloatImage, p: Preprocess): { data: Float32Array; height: number; width: number } {
  const r = toRgb(resizeShorterEdge(img, p.resize, { antialias: p.antialias }));
  const { width: W, height: H } = r;
  const out = new Float32Array(3 * H * W);
  for (let c = 0; c < 3; c++) {
    const m = p.mean[c];
    const s = p.std[c];
    for (let i = 0; i < H * W; i++) out[c * H * W + i] = (r.data[i * 3 + c] - m) / s;
  }
  return { data: out, height: H, width: W };
}

/** Anything that maps a NCHW batch to features (an onnxruntime session in practice). */
export type FeatureRunner = (batch: Float32Array, dims: number[]) => Promise<{ data: Float32Array; dims: readonly number[] }>;

/** Features of `images` (one flattened row each), run in batches. */
export async function extractFeatures(
  images: FloatImage[],
  spec: Pick<NetworkSpec, 'preprocess'>,
  run: FeatureRunner,
  opts: { batch?: number; signal?: AbortSignal } = {},
): Promise<Matrix<Float32Array>> {
  const bs = opts.batch ?? 8;
  let out: Float32Array | null = null;
  let dim = 0;
  for (let s = 0; s < images.length; s += bs) {
    if (opts.signal?.aborted) throw new AbortError();
    const chunk = images.slice(s, s + bs).map((im) => preprocessForNetwork(im, spec.preprocess));
    const { height, width } = chunk[0];
    if (chunk.some((c) => c.height !== height || c.width !== width)) throw new RangeError('extractFeatures: images of one batch preprocess to different sizes');
    const batch = new Float32Array(chunk.length * 3 * height * width);
    chunk.forEach((c, i) => batch.set(c.data, i * c.data.length));
    const res = await run(batch, [chunk.length, 3, height, width]);
    const per = res.data.length / chunk.length;
    if (!out) {
      dim = per;
      out = new Float32Array(images.length * dim);
    }
    out.set(res.data.subarray(0, chunk.length * dim), s * dim);
  }
  return matrix(images.length, dim, out ?? new Float32Array(0));
}

/** Per-sample metric values from features: identification success rates or correlation distances. */
export function featureMetric(use: NetworkSpec['use'], gt: Matrix, rec: Matrix, variant: IdentificationVariant = 'mindeye'): number[] {
  return use === 'identification' ? twoWayIdentification(gt, rec, variant) : rowCorrelationDistances(gt, rec);
}

// ---- stand-in graphs ----------------------------------------------------------------------------

function randn(rng: () => number, n: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rng(), 1e-12);
    const v = rng();
    const r = Math.sqrt(-2 * Math.log(u)) * scale;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/**
 * A stand-in graph at the real signature: pooling to the output's grid (or an 8x8 grid), a random
 * 3x3 conv + ReLU (local oriented/colour filters), and for vector outputs a random projection.
 * Not the real network: its features only rank images by coarse local structure.
 */
export function standInNetworkGraph(net: FeatureNetwork, seed: number): GraphBuilder {
  const ref = FEATURE_NETWORK_REFERENCE[net];
  const rng = mulberry32(seed);
  const S = ref.inputShape[2] as number;
  const g = new GraphBuilder(`${net}_standin`);
  g.metadata.standsInFor = `${ref.role} ${ref.layer} (stand-in at the real shapes)`;
  g.input('pixel_values', 'float32', ref.inputShape);
  g.output('features', 'float32', ref.outputShape);
  const spatial = ref.outputShape.length === 4 && (ref.outputShape[2] as number) > 1;
  const grid = spatial ? (ref.outputShape[2] as number) : 8;
  const stride = Math.floor(S / grid);
  const kernel = S - (grid - 1) * stride;
  const pooled = g.op('AveragePool', ['pixel_values'], { kernel_shape: [kernel, kernel], strides: [stride, stride] });
  const nF = spatial ? (ref.outputShape[1] as number) : 16;
  const conv = conv2d(g, [pooled, g.floats(randn(rng, nF * 27, 0.3), [nF, 3, 3, 3])], [3, 3], { pads: [1, 1, 1, 1] });
  if (spatial) {
    g.node('Relu', [conv], ['features']);
    return g;
  }
  const relu = g.op('Relu', [conv]);
  const flat = g.op('Reshape', [relu, g.int64s([0, -1])]);
  const nIn = nF * grid * grid;
  const D = ref.outputShape[1] as number;
  const proj = g.op('MatMul', [flat, g.floats(randn(rng, nIn * D, 1 / Math.sqrt(nIn)), [nIn, D], 'proj')]);
  if (ref.outputShape.length === 4) g.node('Reshape', [proj, g.int64s([0, D, 1, 1])], ['features']);
  else g.node('Identity', [proj], ['features']);
  return g;
}

/** Writes a stand-in metric pack (all six networks) to `sink`; returns its manifest. */
export async function buildStandInMetricPack(
  sink: ShardSink,
  opts: { seed?: number; command?: string; networks?: FeatureNetwork[] } = {},
): Promise<MetricPackManifest> {
  const out = new PackFileWriter(sink);
  const networks: MetricPackManifest['networks'] = {};
  const seed = opts.seed ?? 1;
  for (const [i, net] of (opts.networks ?? [...FEATURE_NETWORKS]).entries()) {
    const ref = FEATURE_NETWORK_REFERENCE[net];
    const bytes = standInNetworkGraph(net, seed * 1000 + i).toBytes();
    const file = await out.add(`${net}.onnx`, bytes);
    const input: TensorSpec = { name: 'pixel_values', dtype: 'float32', shape: ref.inputShape };
    const output: TensorSpec = { name: 'features', dtype: 'float32', shape: ref.outputShape };
    networks[net] = { file, role: `${ref.role} ${ref.layer}`, layer: ref.layer, kind: 'stand-in', use: ref.use, preprocess: ref.preprocess, input, output };
  }
  const manifest: MetricPackManifest = {
    format: METRIC_PACK_FORMAT,
    version: METRIC_PACK_VERSION,
    name: 'stand-in metric pack',
    description: 'Random stand-in graphs at the real input/output shapes of the six feature networks. Scores made with it are NOT comparable to published numbers.',
    provenance: { kind: 'stand-in', command: opts.command ?? 'buildStandInMetricPack', createdAt: new Date().toISOString(), notes: `seed ${seed}` },
    files: out.files,
    networks,
  };
  await out.writeManifest(METRIC_PACK_MANIFEST, manifest, 2);
  return manifest;
}
