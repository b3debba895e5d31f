// Page side of the perturbation benchmark in headless Chromium: the cortex worker's code path
// (LinearChangeEngine.changeOn over TfRegionProduct) on tfjs WebGPU (SwiftShader here, a real GPU
// elsewhere), wasm and the plain-JS engine, each against the full recomputation on the same backend,
// and the low-level image through the VDVAE-signature stand-in decoder (onnxruntime-web WebGPU EP
// next to tfjs WebGPU, wasm otherwise). The result is left on window.__benchDone.
import { webgpuAdapterInfo, type BackendName } from '../../src/core/decode/backend.ts';
import { ort } from '../../src/core/onnx/runtime.ts';
import { runPerturbBench } from '../perturbBenchCore.ts';

declare global {
  interface Window {
    __benchDone?: { ok: true; result: unknown } | { ok: false; error: string };
  }
}

const q = new URLSearchParams(location.search);
const logEl = document.getElementById('log')!;
const log = (m: string) => {
  console.log(m);
  logEl.textContent += `\n${m}`;
};

(async () => {
  try {
    const ortWasm = q.get('ort');
    if (ortWasm) ort.env.wasm.wasmPaths = ortWasm;
    ort.env.logLevel = 'error';
    const adapter = await webgpuAdapterInfo();
    log(`webgpu adapter: ${JSON.stringify(adapter)}; crossOriginIsolated=${crossOriginIsolated}`);
    const rows = await runPerturbBench({
      env: 'chromium',
      backends: (q.get('backends') ?? 'webgpu,wasm,js').split(',') as BackendName[],
      decoderProvider: (b) => (b === 'webgpu' ? 'webgpu' : 'wasm'),
      reps: Number(q.get('reps') ?? 10),
      // SwiftShader runs WebGPU on the CPU: one text-head update takes seconds there.
      repsFor: (b) => (b === 'webgpu' && adapter?.software ? Number(q.get('softwareReps') ?? 3) : Number(q.get('reps') ?? 10)),
      wasmPaths: q.get('wasm') ?? undefined,
      log,
    });
    window.__benchDone = { ok: true, result: { rows, adapter, userAgent: navigator.userAgent, crossOriginIsolated, hardwareConcurrency: navigator.hardwareConcurrency } };
  } catch (e) {
    window.__benchDone = { ok: false, error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) };
  }
})();
