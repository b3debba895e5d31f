// Page side of the decode benchmark in headless Chromium: WebGPU (SwiftShader here, a real GPU
// elsewhere) and wasm, each against the plain-JS reference in the same page. Parameters come from
// the query string; the result is left on window.__benchDone for bench/lib-browser.ts to collect.
import { webgpuAdapterInfo } from '../../src/core/decode/backend.ts';
import { MIRAGE_HEADS, runDecodeBench } from '../decodeBenchCore.ts';
import { log, params as q, runBenchPage } from './page.ts';

runBenchPage(async () => {
  const names = (q.get('heads') ?? '').split(',').filter(Boolean);
  const heads = names.length ? MIRAGE_HEADS.filter((h) => names.includes(h.name)) : MIRAGE_HEADS;
  const adapter = await webgpuAdapterInfo();
  log(`webgpu adapter: ${JSON.stringify(adapter)}; crossOriginIsolated=${crossOriginIsolated}`);
  const res = await runDecodeBench({
    env: 'chromium',
    backends: ['webgpu', 'wasm'],
    voxels: Number(q.get('voxels') ?? 15724),
    heads,
    batches: (q.get('batches') ?? '1,18').split(',').map(Number),
    reps: Number(q.get('reps') ?? 3),
    wasmPaths: q.get('wasm') ?? undefined,
    log,
  });
  return { ...res, adapter };
});
