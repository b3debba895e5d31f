// Page side of the stage-pack benchmark in headless Chromium: for one stage pack served over HTTP
// (bench/tmp/packs/<name>/), the page's own loading path — HttpShardSource with Cache Storage and
// resumable downloads, size + sha256 checks, ONNX external data — then a session on wasm and on
// WebGPU (SwiftShader on a machine without a GPU: correctness only, never a GPU speed), and the
// time of each call. Memory: performance.measureUserAgentSpecificMemory (JS heap, ArrayBuffers and
// wasm memories of this page and its workers) sampled after each step; Node adds the renderer's CDP
// heap metrics.
import { HttpShardSource } from '../../src/core/bundle/httpSource.ts';
import { adapterHasShaderF16 } from '../../src/core/generate/precision.ts';
import { loadPackStage } from '../../src/core/generate/packers/stagePack.ts';
import { createSession, ort } from '../../src/core/onnx/runtime.ts';
import { webgpuAdapterInfo } from '../../src/core/decode/backend.ts';
import { log, params as q, runBenchPage } from './page.ts';

async function memoryBytes(): Promise<number | null> {
  const m = (performance as unknown as { measureUserAgentSpecificMemory?: () => Promise<{ bytes: number }> }).measureUserAgentSpecificMemory;
  if (!m || !crossOriginIsolated) return null;
  return (await m.call(performance)).bytes;
}

/** Deterministic inputs in (0.05, 0.95) for every input of the stage (values do not change the speed). */
function feeds(spec: { inputs: Record<string, { name: string; shape: (number | string)[] }> }): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const ts of Object.values(spec.inputs)) {
    const dims = ts.shape.map((d) => (typeof d === 'number' ? d : 1));
    const n = dims.reduce((a, b) => a * b, 1);
    out[ts.name] = new ort.Tensor('float32', Float32Array.from({ length: n }, (_, i) => 0.05 + 0.9 * ((i * 0.618034) % 1)), dims);
  }
  return out;
}

runBenchPage(async () => {
  const ortWasm = q.get('ort');
  if (ortWasm) ort.env.wasm.wasmPaths = ortWasm;
  ort.env.logLevel = 'error';
  const pack = q.get('pack')!;
  const stage = q.get('stage')!;
  const calls = Number(q.get('calls') ?? 3);
  const providers = (q.get('providers') ?? 'wasm,webgpu').split(',');
  const adapter = await webgpuAdapterInfo();
  const shaderF16 = await adapterHasShaderF16();
  const memory: Record<string, number | null> = { start: await memoryBytes() };
  const source = new HttpShardSource(new URL(`/tmp/packs/${pack}/`, location.href).href, { cache: true, resumable: {} });
  const loads: { ms: number; bytes: number; from: string }[] = [];
  let loaded = await timeLoad('network');
  loaded = await timeLoad('Cache Storage');
  memory.loaded = await memoryBytes();
  async function timeLoad(from: string) {
    const t0 = performance.now();
    let bytes = 0;
    const s = await loadPackStage(source, stage, { onProgress: (p) => (bytes = p.totalBytes) });
    loads.push({ ms: performance.now() - t0, bytes, from });
    log(`${pack}/${stage}: loaded ${bytes} bytes from ${from} in ${(performance.now() - t0).toFixed(0)} ms`);
    return s;
  }
  const runs: Record<string, { sessionMs: number; callsMs: number[]; error?: string }> = {};
  for (const ep of providers) {
    try {
      const t0 = performance.now();
      const session = await createSession(loaded.onnx, { executionProviders: [ep], externalData: loaded.externalData });
      const sessionMs = performance.now() - t0;
      memory[`${ep} session`] = await memoryBytes();
      const callsMs: number[] = [];
      for (let i = 0; i < calls; i++) {
        const t1 = performance.now();
        const res = await session.run(feeds(loaded.spec));
        for (const t of Object.values(res)) await t.getData(); // a GPU output counts once it is read back
        callsMs.push(performance.now() - t1);
        log(`${pack}/${stage} on ${ep}: call ${i + 1} ${(performance.now() - t1).toFixed(0)} ms`);
      }
      memory[`${ep} after calls`] = await memoryBytes();
      await session.release();
      runs[ep] = { sessionMs, callsMs };
    } catch (e) {
      runs[ep] = { sessionMs: 0, callsMs: [], error: e instanceof Error ? e.message : String(e) };
      log(`${pack}/${stage} on ${ep}: ${runs[ep].error}`);
    }
  }
  return { pack, stage, packName: loaded.packName, files: 1 + loaded.externalData.length, loads, runs, memoryBytes: memory, adapter, shaderF16 };
});
