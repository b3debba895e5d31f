// The evaluate worker: a thin comlink face over src/core/evaluate/bundleEval.ts (the open bundle's
// reconstructions scored with pixel metrics, the demo metric pack and the simulation's encoding
// model). All metric work happens here, never on the page.
import { expose, transfer } from 'comlink';
import { HttpShardSource } from '../src/core/bundle/httpSource.ts';
import { FileListShardSource } from '../src/core/bundle/fileSource.ts';
import { Bundle } from '../src/core/bundle/loader.ts';
import { evaluateBundle, rowImages } from '../src/core/evaluate/bundleEval.ts';
import { ort } from '../src/core/onnx/runtime.ts';
import type { EvaluateWorkerApi } from '../src/core/evaluate/protocol.ts';
import type { BundleSourceSpec } from '../src/core/decode/protocol.ts';
import { installErrorTransfer } from './transferErrors.ts';

installErrorTransfer();
// onnxruntime-web's .wasm/.mjs files are served by vite.config.ts under /wasm/ (no CDN).
ort.env.wasm.wasmPaths = new URL(`${import.meta.env.BASE_URL}wasm/`, self.location.origin).href;
ort.env.logLevel = 'error';

let open: { key: string; bundle: Promise<Bundle> } | null = null;
let controller: AbortController | null = null;
/**
 * The evaluation in flight. A new one aborts it and waits for it to settle before starting: two
 * evaluations interleaving their onnxruntime-web sessions in this worker (React's development
 * double effect starts the dashboard's run twice) could leave the second one hanging.
 */
let running: Promise<unknown> = Promise.resolve();

function bundleFor(s: BundleSourceSpec): Promise<Bundle> {
  const key = s.kind === 'url' ? `url:${s.url}` : `files:${s.label}`;
  if (open?.key !== key) {
    const source = s.kind === 'url' ? new HttpShardSource(new URL(s.url, self.location.href).href, { cache: s.cache ?? true }) : new FileListShardSource(s.files);
    const bundle = Bundle.open(source, { verify: 'sizes' });
    open = { key, bundle };
    bundle.catch(() => {
      if (open?.key === key) open = null;
    });
  }
  return open.bundle;
}

const api: EvaluateWorkerApi = {
  evaluate(req, onProgress) {
    controller?.abort();
    const c = (controller = new AbortController());
    const previous = running;
    const job = (async () => {
      await previous.catch(() => undefined);
      if (c.signal.aborted) throw new DOMException('evaluation cancelled', 'AbortError');
      const bundle = await bundleFor(req.bundle);
      return evaluateBundle(bundle, { size: req.size, session: req.session, signal: c.signal, onProgress: onProgress && ((d, t, l) => void onProgress(d, t, l)) });
    })();
    running = job.catch(() => undefined);
    return job;
  },
  async images(req, row) {
    const r = await rowImages(await bundleFor(req.bundle), row, req.session);
    return r && transfer(r, [r.recon.rgb.buffer as ArrayBuffer, r.gt.rgb.buffer as ArrayBuffer]);
  },
  cancel() {
    controller?.abort();
  },
};

expose(api);
