// The generate worker: a thin comlink face over src/core/generate/service.ts (model pack, ONNX
// sessions on WebGPU or wasm, MIRAGE's pipeline). All work happens here, never on the page.
import { expose, transfer } from 'comlink';
import { HttpShardSource } from '../src/core/bundle/httpSource.ts';
import { FileListShardSource } from '../src/core/bundle/fileSource.ts';
import type { ShardSource } from '../src/core/bundle/source.ts';
import { resolveFolderRef, type PackResolver } from '../src/core/generate/packOpen.ts';
import { ort } from '../src/core/onnx/runtime.ts';
import { GenerateService, type StagePlacement } from '../src/core/generate/service.ts';
import { PrefixSource } from '../src/core/bundle/prefixSource.ts';
import { rgbToRgba, type RgbImage } from '../src/core/base/image.ts';
import type { GenerateProgress } from '../src/core/generate/pipeline.ts';
import { DISPLAY_MAX, type DisplayImage, type GenerateWorkerApi, type PackFileProgress, type PackSourceSpec, type ReconstructReply } from '../src/core/generate/protocol.ts';
import type { BundleSourceSpec } from '../src/core/decode/protocol.ts';
import { installErrorTransfer } from './transferErrors.ts';

installErrorTransfer();
// onnxruntime-web's .wasm/.mjs files are served by vite.config.ts under /wasm/ (no CDN).
ort.env.wasm.wasmPaths = new URL(`${import.meta.env.BASE_URL}wasm/`, self.location.origin).href;
// ORT logs node placement notes as console errors; keep real errors only.
ort.env.logLevel = 'error';

const service = new GenerateService();

function bundleSource(s: BundleSourceSpec): ShardSource {
  return s.kind === 'url' ? new HttpShardSource(new URL(s.url, self.location.href).href, { cache: s.cache ?? true }) : new FileListShardSource(s.files);
}

/**
 * The pack's source and the resolver of a composite pack's parts. Over HTTP, pack files are kept in
 * Cache Storage and downloaded resumably (chunks stored as they arrive: an interrupted or cancelled
 * load continues where it stopped); a picked folder resolves parts inside the folder.
 */
function packSource(s: PackSourceSpec): { source: ShardSource; resolve: PackResolver } {
  if (s.kind === 'url') {
    const source = new HttpShardSource(new URL(s.url, self.location.href).href, { cache: true, resumable: {} });
    return { source, resolve: (ref) => source.sibling(ref) };
  }
  const files = new FileListShardSource(s.files);
  return { source: new PrefixSource(files, s.prefix), resolve: (ref) => new PrefixSource(files, resolveFolderRef(s.prefix, ref)) };
}

/** The open in progress (cancelOpen aborts it). */
let opening: AbortController | null = null;

/**
 * RGB bytes -> RGBA -> ImageBitmap at display size (at most DISPLAY_MAX a side), all here in the
 * worker: the page only draws the transferred bitmap (its main thread must stay under 50 ms tasks).
 */
async function toDisplay(img: RgbImage): Promise<DisplayImage> {
  const { width, height, data } = img;
  const pixels = new ImageData(rgbToRgba(data), width, height);
  const scale = Math.min(1, DISPLAY_MAX / Math.max(width, height));
  const bitmap =
    scale < 1
      ? await createImageBitmap(pixels, { resizeWidth: Math.round(width * scale), resizeHeight: Math.round(height * scale), resizeQuality: 'high' })
      : await createImageBitmap(pixels);
  return { bitmap, width, height };
}

/** Least time between two progress messages to the page (ms). */
const PROGRESS_MS = 100;

const bitmaps = (xs: (DisplayImage | null)[]) => xs.filter((x): x is DisplayImage => !!x).map((x) => x.bitmap);

const api: GenerateWorkerApi = {
  // `placement` (service.ts StagePlacement): 'fastest' runs every stage on wasm when the WebGPU
  // adapter is a CPU emulation (SwiftShader), 'webgpu' keeps WebGPU for every stage (the page's
  // "run on" choice, ?gen= in the URL; the browser specs pin 'webgpu').
  async open(bundle, pack, preferWebgpu, onProgress, placement: StagePlacement = 'fastest', precision = 'auto') {
    opening?.abort();
    const controller = new AbortController();
    opening = controller;
    const { source, resolve } = packSource(pack);
    // Byte progress at most every PROGRESS_MS (and each file's end): every message is a task on the page.
    let lastSent = -Infinity;
    const progress =
      onProgress &&
      ((p: PackFileProgress) => {
        const now = performance.now();
        if (p.fileLoadedBytes !== p.fileBytes && now - lastSent < PROGRESS_MS) return;
        lastSent = now;
        void onProgress(p);
      });
    try {
      return await service.open(bundleSource(bundle), source, { preferWebgpu, placement, precision, resolve, onProgress: progress, signal: controller.signal });
    } finally {
      if (opening === controller) opening = null;
    }
  },
  cancelOpen() {
    opening?.abort();
  },
  async reconstruct(req, onProgress, onLowLevel) {
    // Progress goes to the page at most every PROGRESS_MS (and at each stage's first and last
    // step): every message is a task on the page's main thread.
    let lastSent = -Infinity;
    let lastStage = '';
    const progress =
      onProgress &&
      ((p: GenerateProgress) => {
        const now = performance.now();
        if (p.stage === lastStage && p.step !== p.total && now - lastSent < PROGRESS_MS) return;
        lastSent = now;
        lastStage = p.stage;
        void onProgress(p);
      });
    const live =
      onLowLevel &&
      ((low: RgbImage, enh: RgbImage) => {
        void Promise.all([toDisplay(low), toDisplay(enh)]).then(([l, e]) => onLowLevel(transfer(l, [l.bitmap]), transfer(e, [e.bitmap])));
      });
    const r = await service.reconstruct(req, progress, live);
    const [lowLevel, enhanced, ...candidates] = await Promise.all([r.lowLevel, r.enhanced, ...r.candidates].map((x) => (x ? toDisplay(x) : null)));
    // the echoed request without its deltas (megabytes the page sent; `perturbed` says what they did)
    const { headDeltas: _sent, ...request } = r.request;
    const reply: ReconstructReply = {
      request,
      executionProvider: r.executionProvider,
      modelPack: r.modelPack,
      stageFallbacks: r.stageFallbacks,
      decoding: r.decoding,
      perturbed: r.perturbed,
      lowLevel,
      enhanced,
      candidates: candidates as DisplayImage[],
      scores: r.scores,
      best: r.best,
      caption: r.caption,
      trueCaption: r.trueCaption,
      settings: r.settings,
      timings: r.timings,
      sampler: r.sampler,
      transfers: { uploads: r.transfers.uploads, uploadBytes: r.transfers.uploadBytes, downloads: r.transfers.downloads, downloadBytes: r.transfers.downloadBytes, gpuHandoffs: r.transfers.gpuHandoffs, stepGraphRuns: r.transfers.stepGraphRuns },
    };
    return transfer(reply, bitmaps([lowLevel, enhanced, ...candidates]));
  },
  cancel() {
    service.cancel();
  },
};

expose(api);
