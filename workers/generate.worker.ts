// The generate worker: a thin comlink face over src/core/generate/service.ts (model pack, ONNX
// sessions on WebGPU or wasm, MIRAGE's pipeline). All work happens here, never on the page.
import { expose, transfer } from 'comlink';
import { HttpShardSource } from '../src/core/bundle/httpSource.ts';
import { FileListShardSource } from '../src/core/bundle/fileSource.ts';
import type { ShardSource } from '../src/core/bundle/source.ts';
import { ort } from '../src/core/onnx/runtime.ts';
import { GenerateService, PrefixSource } from '../src/core/generate/service.ts';
import type { RgbImage } from '../src/core/generate/enhance.ts';
import type { GenerateWorkerApi, PackSourceSpec, ReconstructReply } from '../src/app/reconstruct/api.ts';
import type { BundleSourceSpec } from '../src/app/workerApi.ts';
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

function packSource(s: PackSourceSpec): ShardSource {
  if (s.kind === 'url') return new HttpShardSource(new URL(s.url, self.location.href).href, { cache: true });
  return new PrefixSource(new FileListShardSource(s.files), s.prefix);
}

const images = (xs: (RgbImage | null)[]) => xs.filter((x): x is RgbImage => !!x).map((x) => x.data.buffer as ArrayBuffer);

const api: GenerateWorkerApi = {
  open(bundle, pack, preferWebgpu, onProgress) {
    return service.open(bundleSource(bundle), packSource(pack), {
      preferWebgpu,
      onProgress: onProgress && ((p) => onProgress(p.loadedBytes, p.totalBytes, p.file)),
    });
  },
  async reconstruct(req, onProgress, onLowLevel) {
    const r = await service.reconstruct(req, onProgress, onLowLevel && ((low, enh) => void onLowLevel(low, enh)));
    const reply: ReconstructReply = {
      request: r.request,
      executionProvider: r.executionProvider,
      stageFallbacks: r.stageFallbacks,
      decoding: r.decoding,
      lowLevel: r.lowLevel,
      enhanced: r.enhanced,
      candidates: r.candidates,
      scores: r.scores,
      best: r.best,
      caption: r.caption,
      trueCaption: r.trueCaption,
      settings: r.settings,
      timings: r.timings,
    };
    return transfer(reply, images([r.lowLevel, r.enhanced, ...r.candidates]));
  },
  cancel() {
    service.cancel();
  },
};

expose(api);
