// The cortex worker: a thin comlink face over src/core/cortex's CortexSession (surfaces, ROIs,
// perturbations, the exact linear-change engine, lesion profiles). It opens its own view of the
// bundle (HTTP Cache Storage makes the second open cheap), so heavy math never runs on the page.
// Head changes run on the first tfjs backend that works (webgpu -> wasm -> cpu, then the plain-JS
// engine), the low-level decoder on the fastest onnxruntime-web provider that decodes correctly.
import { expose, transfer } from 'comlink';
import { Bundle } from '../src/core/bundle/loader.ts';
import { HttpShardSource } from '../src/core/bundle/httpSource.ts';
import { FileListShardSource } from '../src/core/bundle/fileSource.ts';
import { CortexSession } from '../src/core/cortex/session.ts';
import { LOWLEVEL_HEAD, LowLevelDecoder, LowLevelRedecoder, readLowLevelDecoder } from '../src/core/cortex/lowLevel.ts';
import { startRegionProduct, type TfRegionProduct } from '../src/core/cortex/tfRegion.ts';
import type { BackendName } from '../src/core/decode/backend.ts';
import type { BundleSourceSpec } from '../src/core/decode/protocol.ts';
import type { CortexWorkerApi, LowLevelResult, SubjectView } from '../src/core/cortex/protocol.ts';
import { ort } from '../src/core/onnx/runtime.ts';
import { installErrorTransfer } from './transferErrors.ts';

installErrorTransfer();
// The low-level decoder's provider probe expects WebGPU kernels to fail on some graphs; the outcome
// is reported in the panel (providerTrials), so ORT's own error log would only be noise.
ort.env.logLevel = 'fatal';

/** Where tfjs-backend-wasm finds its .wasm files (served by vite.config.ts under /wasm/). */
const WASM_BASE = new URL(`${import.meta.env.BASE_URL}wasm/`, self.location.origin).href;
const DEFAULT_ORDER: BackendName[] = ['webgpu', 'wasm', 'cpu', 'js'];

let bundle: Bundle | null = null;
let session: CortexSession | null = null;
let product: TfRegionProduct | null = null;
let backendOrder: BackendName[] = DEFAULT_ORDER;

/**
 * Uploads the session's heads to the first backend of the order that works. Starts are serialised:
 * tfjs has one active backend per realm, and two overlapping starts (React's development double
 * effect calls loadSubject twice) would switch it under each other ("Backend 'wasm' has not yet
 * been initialized").
 */
let backendChain: Promise<void> = Promise.resolve();
function startBackend(s: CortexSession): Promise<void> {
  const run = backendChain.then(() => (session === s ? startBackendNow(s) : undefined));
  backendChain = run.catch(() => undefined);
  return run;
}

async function startBackendNow(s: CortexSession): Promise<void> {
  product?.dispose();
  product = null;
  const heads = s.engine.headNames.map((n) => s.engine.head(n));
  const r = await startRegionProduct(heads, backendOrder, { wasmPaths: WASM_BASE });
  product = r.product;
  s.setRegionProduct(r.product, r.info);
}
/** The bundle's low-level decoder (created on the first update), or why there is none. */
let lowLevel: Promise<LowLevelRedecoder | string> | null = null;

function lowLevelDecoder(b: Bundle): Promise<LowLevelRedecoder | string> {
  if (!lowLevel) {
    lowLevel = (async () => {
      const r = await readLowLevelDecoder(b.source);
      if (!r.decoder) return r.reason;
      // The fastest provider that decodes the probe like wasm does (the demo's graph is tiny and
      // WebGPU's EP cannot run its strided Conv, so wasm wins there; a real VDVAE may go to WebGPU).
      return new LowLevelRedecoder(await LowLevelDecoder.createFastest(r.decoder, { providers: backendOrder.includes('webgpu') ? ['webgpu'] : [] }));
    })().catch((e: unknown) => `the low-level decoder could not be loaded: ${e instanceof Error ? e.message : String(e)}`);
  }
  return lowLevel;
}

async function lowLevelImages(s: CortexSession, after: Float32Array | undefined): Promise<LowLevelResult> {
  if (!after) return { available: false, reason: `the bundle has no ${LOWLEVEL_HEAD} head for subject ${s.subject.id}` };
  const d = await lowLevelDecoder(bundle!);
  if (typeof d === 'string') return { available: false, reason: d };
  try {
    return { available: true, ...(await d.images(s.engine.baseline(LOWLEVEL_HEAD).pred, after)) };
  } catch (e) {
    return { available: false, reason: e instanceof Error ? e.message : String(e) };
  }
}

function need(): CortexSession {
  if (!session) throw new Error('cortex worker: loadSubject() first');
  return session;
}

function buffers(arrays: Array<ArrayBufferView | null | undefined>): ArrayBuffer[] {
  return arrays.filter((a): a is ArrayBufferView => !!a).map((a) => a.buffer as ArrayBuffer);
}

const api: CortexWorkerApi = {
  async open(source: BundleSourceSpec) {
    session = null;
    lowLevel = null;
    const src =
      source.kind === 'url'
        ? new HttpShardSource(new URL(source.url, self.location.href).href, { cache: source.cache ?? true })
        : new FileListShardSource(source.files);
    bundle = await Bundle.open(src, { verify: 'sizes' });
  },

  async loadSubject(subject) {
    if (!bundle) throw new Error('cortex worker: open() first');
    session = await CortexSession.open(bundle, subject);
    const s = session;
    await startBackend(s);
    // Copies: the session keeps its own arrays.
    const geometry = s.geometry.map((g) => ({
      hemi: g.hemi,
      vertexCount: g.vertexCount,
      faces: g.faces.slice(),
      shapes: Object.fromEntries(Object.entries(g.shapes).map(([k, v]) => [k, v!.slice()])),
    }));
    const view: SubjectView = {
      subject,
      voxelCount: s.voxelCount,
      geometry,
      rois: s.roiInfo(),
      heads: s.subject.heads.map((h) => ({ name: h.name, outputShape: [...h.outputShape], rank: h.rank, role: h.role })),
      hasVoxelMap: s.map !== null,
      backend: s.backend,
    };
    return transfer(view, buffers(geometry.flatMap((g) => [g.faces, ...Object.values(g.shapes)])));
  },

  async setTrials(trials) {
    await need().setTrials(trials);
  },

  async setStack(items) {
    const s = need();
    s.setStack(items);
    const u = await s.update();
    const low = await lowLevelImages(s, u.predictions[LOWLEVEL_HEAD]);
    // The cached "before" image is shared between updates: send a copy, transfer only "after".
    const lowOut: LowLevelResult = low.available ? { ...low, before: { ...low.before, data: low.before.data.slice() } } : low;
    const out = { ...u, lowLevel: lowOut };
    return transfer(out, buffers([...Object.values(u.predictions), ...(lowOut.available ? [lowOut.before.data, lowOut.after.data] : [])]));
  },

  async overlay(kind) {
    const v = need().vertexOverlay(kind);
    return v ? transfer(v, buffers(v)) : null;
  },

  async pick(hemi, vertex, overlay) {
    return need().pick(hemi, vertex, overlay);
  },

  async brushVoxels(hemi, centres, radiusMm, shape) {
    return Array.from(need().brushVoxels(hemi, centres, radiusMm, shape));
  },

  async paintRoi(name, color, hemi, centres, radiusMm, shape) {
    const s = need();
    s.paintUserRoi(name, color, s.brushVoxels(hemi, centres, radiusMm, shape));
    return s.roiInfo();
  },

  async addUserRoi(name, color, voxels) {
    const s = need();
    s.addUserRoi(name, color, voxels);
    return s.roiInfo();
  },

  async removeUserRoi(name) {
    const s = need();
    s.rois.remove(name);
    return s.roiInfo();
  },

  async importRois(json, file) {
    const s = need();
    s.importRois(json, file);
    return s.roiInfo();
  },

  async exportRois() {
    return need().exportRois();
  },

  async lesion(stimulus) {
    return need().lesion(stimulus);
  },

  async useBackends(order) {
    backendOrder = order.length ? order : DEFAULT_ORDER;
    const s = need();
    await startBackend(s);
    return s.backend;
  },

  async headDeltas(stimulus, condition) {
    const d = await need().headDeltas(stimulus, condition);
    return transfer(d, buffers(Object.values(d.deltas)));
  },

  async reference(head) {
    const s = need();
    const h = s.engine.head(head);
    const { res, changes } = await s.currentChanges([head]);
    const factored = changes.get(head)!.delta;
    return {
      backend: s.backend,
      x0: s.baseline.slice(),
      x1: res.x,
      A: h.A.slice(),
      B: h.B.slice(),
      intercept: h.intercept.slice(),
      rank: h.spec.rank,
      outputShape: [...h.spec.outputShape],
      inputNorm: h.spec.inputNorm,
      outputNorm: h.spec.outputNorm,
      factored,
    };
  },
};

expose(api);
