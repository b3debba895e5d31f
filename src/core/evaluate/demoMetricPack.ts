// The demo metric pack: the simulated demo's image encoder (models/image_encoder.onnx, written by
// `mirage demo`, see src/core/simulate/encoders.ts) used as the "CLIP" feature network, so that
// identification can be measured on the demo. It is NOT CLIP: tables and the dashboard label its
// column with DEMO_METRIC_LABEL. The encoder takes float32 NCHW in [0, 1] at the demo's image size,
// so its preprocessing is a bilinear resize of the shorter edge to that size and an identity
// Normalize (mean 0, std 1).
import { BundleError } from '../base/errors.ts';
import { sha256Hex } from '../bundle/sha256.ts';
import type { ShardSource } from '../bundle/source.ts';
import type { ShardSink } from '../bundle/writer.ts';
import type { TensorSpec } from '../generate/modelPack.ts';
import { METRICS } from './metrics.ts';
import type { MetricKey } from './metrics.ts';
import type { LoadedMetricPack, MetricPackManifest } from './featurePacks.ts';
import { METRIC_PACK_FORMAT, METRIC_PACK_MANIFEST, METRIC_PACK_VERSION, parseMetricPack } from './featurePacks.ts';

export const DEMO_MODELS_LISTING = 'models/models.json';
export const DEMO_IMAGE_ENCODER = 'image_encoder';
export const DEMO_METRIC_LABEL = 'demo image encoder (simulated stand-in for CLIP)';
export const DEMO_METRIC_PACK_NAME = 'demo metric pack';

interface ListedModel {
  name: string;
  file: string;
  bytes: number;
  sha256: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

export interface DemoImageEncoder {
  bytes: Uint8Array;
  input: TensorSpec;
  output: TensorSpec;
  /** image side the encoder expects (input shape [batch, 3, S, S]) */
  size: number;
  /** models.json `kind` (the demo writes "simulated") */
  kind: string;
}

/** True when the source lists the demo encoders (models/models.json). */
export async function hasDemoModels(source: ShardSource, signal?: AbortSignal): Promise<boolean> {
  try {
    // A listing, not just a 200: static servers with an SPA fallback (Vite's dev server and preview)
    // answer a missing models/models.json with the page's index.html.
    const listing = JSON.parse(new TextDecoder().decode(await source.read(DEMO_MODELS_LISTING, { signal }))) as { models?: unknown };
    return Array.isArray(listing?.models);
  } catch {
    return false;
  }
}

/** Reads and verifies (size, sha256) the demo image encoder listed in models/models.json. */
export async function readDemoImageEncoder(source: ShardSource, opts: { signal?: AbortSignal } = {}): Promise<DemoImageEncoder> {
  const file = `${source.label}/${DEMO_MODELS_LISTING}`;
  let listing: { kind?: unknown; models?: unknown };
  try {
    listing = JSON.parse(new TextDecoder().decode(await source.read(DEMO_MODELS_LISTING, { signal: opts.signal })));
  } catch (e) {
    throw new BundleError(file, `cannot read the demo model listing (${(e as Error).message})`, { cause: e, expected: 'models/models.json written by `mirage demo`' });
  }
  const models = Array.isArray(listing.models) ? (listing.models as ListedModel[]) : [];
  const enc = models.find((m) => m && m.name === DEMO_IMAGE_ENCODER);
  if (!enc) throw new BundleError(file, `no "${DEMO_IMAGE_ENCODER}" in the listing`, { field: 'models[].name', expected: DEMO_IMAGE_ENCODER });
  const input = enc.inputs?.[0];
  const output = enc.outputs?.[0];
  if (!input || input.shape.length !== 4 || input.shape[1] !== 3 || typeof input.shape[2] !== 'number' || input.shape[2] !== input.shape[3]) {
    throw new BundleError(file, `image encoder input shape [${input?.shape.join(', ')}]`, { field: 'models[image_encoder].inputs[0].shape', expected: '[batch, 3, S, S]' });
  }
  if (!output) throw new BundleError(file, 'image encoder has no output', { field: 'models[image_encoder].outputs' });
  const bytes = await source.read(enc.file, { signal: opts.signal });
  if (bytes.byteLength !== enc.bytes) throw new BundleError(`${source.label}/${enc.file}`, `file has ${bytes.byteLength} bytes`, { field: 'models[image_encoder].bytes', expected: String(enc.bytes) });
  const h = await sha256Hex(bytes);
  if (h !== enc.sha256) throw new BundleError(`${source.label}/${enc.file}`, `sha256 ${h} does not match the listing`, { field: 'models[image_encoder].sha256', expected: enc.sha256 });
  return { bytes, input, output, size: input.shape[2] as number, kind: typeof listing.kind === 'string' ? listing.kind : 'simulated' };
}

const CLIP_FILE = 'clip.onnx';

/** The metric pack manifest for a demo image encoder (network "clip", kind simulated). */
export async function demoMetricPackManifest(enc: DemoImageEncoder, command: string): Promise<MetricPackManifest> {
  return parseMetricPack({
    format: METRIC_PACK_FORMAT,
    version: METRIC_PACK_VERSION,
    name: DEMO_METRIC_PACK_NAME,
    description: `The simulated demo's image encoder used in the CLIP column: ${DEMO_METRIC_LABEL}. Scores made with it are not comparable to published CLIP numbers.`,
    provenance: { kind: 'simulated', command, createdAt: new Date().toISOString(), notes: DEMO_METRIC_LABEL },
    files: [{ path: CLIP_FILE, bytes: enc.bytes.byteLength, sha256: await sha256Hex(enc.bytes) }],
    networks: {
      clip: {
        file: CLIP_FILE,
        role: DEMO_METRIC_LABEL,
        layer: 'embedding',
        kind: 'simulated',
        use: 'identification',
        preprocess: { resize: enc.size, antialias: true, mean: [0, 0, 0], std: [1, 1, 1] },
        input: enc.input,
        output: enc.output,
      },
    },
  });
}

/** The demo metric pack in memory (what the evaluate worker uses; no files written). */
export async function demoMetricPack(source: ShardSource, opts: { signal?: AbortSignal; command?: string } = {}): Promise<LoadedMetricPack> {
  const enc = await readDemoImageEncoder(source, opts);
  return { manifest: await demoMetricPackManifest(enc, opts.command ?? 'demoMetricPack'), onnx: { clip: enc.bytes } };
}

/** Writes the demo metric pack (metricpack.json + clip.onnx) to `sink`; returns its manifest. */
export async function buildDemoMetricPack(source: ShardSource, sink: ShardSink, opts: { signal?: AbortSignal; command?: string } = {}): Promise<MetricPackManifest> {
  const enc = await readDemoImageEncoder(source, opts);
  const manifest = await demoMetricPackManifest(enc, opts.command ?? 'buildDemoMetricPack');
  await sink.write(CLIP_FILE, enc.bytes);
  await sink.write(METRIC_PACK_MANIFEST, new TextEncoder().encode(JSON.stringify(manifest, null, 2)));
  return manifest;
}

/** Notes for tables: which feature columns are not the real networks. */
export function metricPackNotes(m: MetricPackManifest): string[] {
  return Object.entries(m.networks)
    .filter(([, s]) => s && s.kind !== 'real')
    .map(([k, s]) => `${METRICS[k as MetricKey].label} column: ${s!.role}${s!.role.includes(s!.kind) ? '' : ` (${s!.kind})`}`);
}
