// Page side of the Stable Cascade browser benchmark (bench/cascadeBrowser.bench.ts): a real-size
// `mirage pack stable-cascade` pack served over HTTP, each stage read through the page's loading path
// (loadPackStage: size + sha256 checks, ONNX external data) and one onnxruntime-web session created
// per part on one execution provider, every session kept (the question is whether all stages fit in
// one tab). After each session: memory (performance.measureUserAgentSpecificMemory: JS heap,
// ArrayBuffers and wasm memory of the page). A failure is recorded with its stage and part, and the
// run stops there: that is where a limit (wasm heap, buffer size, protobuf) stopped it.
import { HttpShardSource } from '../../src/core/bundle/httpSource.ts';
import { webgpuAdapterInfo } from '../../src/core/decode/backend.ts';
import { loadPackStage } from '../../src/core/generate/packers/stagePack.ts';
import { createSession, ort, type OrtSession } from '../../src/core/onnx/runtime.ts';
import { log, params as q, runBenchPage } from './page.ts';

async function memoryBytes(): Promise<number | null> {
  const m = (performance as unknown as { measureUserAgentSpecificMemory?: () => Promise<{ bytes: number }> }).measureUserAgentSpecificMemory;
  if (!m || !crossOriginIsolated) return null;
  return (await m.call(performance)).bytes;
}

/** The adapter's buffer limits (what onnxruntime-web asks the device for: it requests the adapter's maxima). */
async function adapterLimits(): Promise<Record<string, number> | null> {
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ limits: Record<string, number> } | null> } }).gpu;
  const a = gpu ? await gpu.requestAdapter() : null;
  return a ? { maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize, maxBufferSize: a.limits.maxBufferSize } : null;
}

interface SessionRow {
  stage: string;
  part: number;
  file: string;
  bytes: number;
  sessionMs?: number;
  memoryBytes?: number | null;
  error?: string;
}

runBenchPage(async () => {
  const ortWasm = q.get('ort');
  if (ortWasm) ort.env.wasm.wasmPaths = ortWasm;
  ort.env.logLevel = 'error';
  const ep = q.get('provider') ?? 'wasm';
  const stages = (q.get('stages') ?? 'latentEncoder,pixelDecoder,latentDecoder,priorDenoiser').split(',');
  const source = new HttpShardSource(new URL(q.get('pack')!, location.href).href, { cache: false });
  const loads: { stage: string; ms: number; bytes: number; files: number }[] = [];
  const rows: SessionRow[] = [];
  const held: OrtSession[] = [];
  let stoppedAt: string | null = null;
  const memory: Record<string, number | null> = { start: await memoryBytes() };
  for (const stage of stages) {
    let loaded;
    const t0 = performance.now();
    try {
      let bytes = 0;
      loaded = await loadPackStage(source, stage, { onProgress: (p) => (bytes = p.totalBytes) });
      const files = loaded.parts ? loaded.parts.reduce((a, p) => a + 1 + p.externalData.length, 0) : 1 + loaded.externalData.length;
      loads.push({ stage, ms: performance.now() - t0, bytes, files });
      log(`${stage}: loaded ${bytes} bytes in ${(performance.now() - t0).toFixed(0)} ms`);
    } catch (e) {
      stoppedAt = `${stage}: load: ${e instanceof Error ? e.message : String(e)}`;
      break;
    }
    const parts = loaded.parts ?? [{ file: loaded.spec.file, onnx: loaded.onnx, externalData: loaded.externalData }];
    for (const [k, p] of parts.entries()) {
      const row: SessionRow = { stage, part: k, file: p.file, bytes: p.onnx.byteLength + p.externalData.reduce((a, d) => a + d.data.byteLength, 0) };
      rows.push(row);
      try {
        const t1 = performance.now();
        held.push(await createSession(p.onnx, { executionProviders: [ep], externalData: p.externalData }));
        row.sessionMs = performance.now() - t1;
        row.memoryBytes = await memoryBytes();
        log(`${stage} part ${k + 1}/${parts.length} on ${ep}: session ${row.sessionMs.toFixed(0)} ms, memory ${row.memoryBytes}`);
      } catch (e) {
        row.error = e instanceof Error ? e.message : String(e);
        stoppedAt = `${stage} part ${k + 1} of ${parts.length}: ${row.error}`;
        log(stoppedAt);
        break;
      }
    }
    loaded = undefined; // the pack bytes go; the sessions stay
    memory[`after ${stage}`] = await memoryBytes();
    if (stoppedAt) break;
  }
  const sessionsHeld = held.length;
  for (const s of held) await s.release().catch(() => {});
  return { executionProvider: ep, adapter: await webgpuAdapterInfo(), adapterLimits: await adapterLimits(), loads, sessions: rows, sessionsHeld, stoppedAt, memoryBytes: memory };
});
