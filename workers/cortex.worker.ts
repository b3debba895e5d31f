// The cortex worker: a thin comlink face over src/core/cortex's CortexSession (surfaces, ROIs,
// perturbations, the exact linear-change engine, lesion profiles). It opens its own view of the
// bundle (HTTP Cache Storage makes the second open cheap), so heavy math never runs on the page.
import { expose, transfer } from 'comlink';
import { Bundle } from '../src/core/bundle/loader.ts';
import { HttpShardSource } from '../src/core/bundle/httpSource.ts';
import { FileListShardSource } from '../src/core/bundle/fileSource.ts';
import { CortexSession } from '../src/core/cortex/session.ts';
import { LOWLEVEL_HEAD, LowLevelDecoder, LowLevelRedecoder, readLowLevelDecoder } from '../src/core/cortex/lowLevel.ts';
import type { BundleSourceSpec } from '../src/app/workerApi.ts';
import type { CortexWorkerApi, LowLevelResult, SubjectView } from '../src/app/cortex/api.ts';
import { installErrorTransfer } from './transferErrors.ts';

installErrorTransfer();

let bundle: Bundle | null = null;
let session: CortexSession | null = null;
/** The bundle's low-level decoder (created on the first update), or why there is none. */
let lowLevel: Promise<LowLevelRedecoder | string> | null = null;

function lowLevelDecoder(b: Bundle): Promise<LowLevelRedecoder | string> {
  if (!lowLevel) {
    lowLevel = (async () => {
      const r = await readLowLevelDecoder(b.source);
      if (!r.decoder) return r.reason;
      // wasm: the decoder is small (one 1x384 product and a few convs, a few ms) and the WebGPU EP
      // cannot run its strided Conv (it falls back anyway, logging errors). LowLevelDecoder.create
      // takes { preferWebgpu: true } for a decoder WebGPU can run.
      return new LowLevelRedecoder(await LowLevelDecoder.create(r.decoder));
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

  async reference(head) {
    const s = need();
    const h = s.engine.head(head);
    const res = s.stack.apply(s.baseline, { rois: s.rois, engine: s.engine, trialBetas: () => {
      throw new Error('reference: replace perturbations are not supported here');
    } });
    s.engine.setBaseline(s.baseline);
    const factored = s.engine.change(head, res.total).delta;
    return {
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
