// Page side of the perturbation benchmark in headless Chromium: the cortex worker's code path
// (LinearChangeEngine.changeOn over TfRegionProduct) on tfjs WebGPU (SwiftShader here, a real GPU
// elsewhere), wasm and the plain-JS engine, each against the full recomputation on the same backend,
// and the low-level image through the VDVAE-signature stand-in decoder (onnxruntime-web WebGPU EP
// next to tfjs WebGPU, wasm otherwise). The result is left on window.__benchDone.
import { webgpuAdapterInfo, type BackendName } from '../../src/core/decode/backend.ts';
import { ort } from '../../src/core/onnx/runtime.ts';
import { runPerturbBench } from '../perturbBenchCore.ts';
import { log, params as q, runBenchPage } from './page.ts';

runBenchPage(async () => {
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
    repsFor: (b) =>
      b === 'webgpu' && adapter?.software ? Number(q.get('softwareReps') ?? 3) : Number(q.get('reps') ?? 10),
    wasmPaths: q.get('wasm') ?? undefined,
    log,
  });
  return { rows, adapter };
});
