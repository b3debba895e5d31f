// Stable Cascade in one Chromium tab (issue 15, "the lite variants must load and run in one tab"):
// a real-size pack made by `mirage pack stable-cascade` (random weights with the official key names
// and shapes: speed and memory do not depend on the values) is read stage by stage through the
// page's loading path and one onnxruntime-web session per part is created and kept, on wasm and on
// WebGPU (SwiftShader, a CPU emulation, on a machine without a GPU: it says whether and where it
// fits, never how fast a GPU is). Per stage: load time and bytes; per part: session time and page
// memory; where a limit stops the run, the stage, part and error (bench/browser/cascade.ts).
// The pack is multi-GB and stays outside the repository: MIRAGE_BENCH_CASCADE_PACK=<pack folder>
// (e.g. `mirage pack stable-cascade --checkpoints <folder> --variant lite --precision float32 --out /tmp/lite`).
// MIRAGE_BENCH_CASCADE_STAGES (default all four) and MIRAGE_BENCH_PROVIDERS (default wasm,webgpu)
// run a part; rows of other stage sets and providers are kept. Results: bench/results/cascade-browser.json.
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { CHROMIUM, REPO_DIR, runBenchPage } from './lib-browser.ts';
import type { BenchContext } from './lib.ts';

interface PageResult {
  executionProvider: string;
  loads: { stage: string; ms: number; bytes: number; files: number }[];
  sessions: { stage: string; part: number; file: string; bytes: number; sessionMs?: number; memoryBytes?: number | null; error?: string }[];
  sessionsHeld: number;
  stoppedAt: string | null;
  memoryBytes: Record<string, number | null>;
  adapter: unknown;
  adapterLimits: Record<string, number> | null;
}

export default async function run(ctx: BenchContext): Promise<void> {
  const dir = process.env.MIRAGE_BENCH_CASCADE_PACK;
  if (!dir || !existsSync(join(dir, 'modelpack.json'))) {
    ctx.log('cascadeBrowser: set MIRAGE_BENCH_CASCADE_PACK to a real-size `mirage pack stable-cascade` pack folder (multi-GB, kept outside the repository); nothing measured');
    return;
  }
  const pack = resolve(dir);
  const manifest = JSON.parse(readFileSync(join(pack, 'modelpack.json'), 'utf8')) as { name: string; description?: string; stages: Record<string, { settings?: Record<string, unknown>; parts?: unknown[] }> };
  const stages = process.env.MIRAGE_BENCH_CASCADE_STAGES ?? 'latentEncoder,pixelDecoder,latentDecoder,priorDenoiser';
  const providers = (process.env.MIRAGE_BENCH_PROVIDERS ?? 'wasm,webgpu').split(',');
  const file = join(REPO_DIR, 'bench/results/cascade-browser.json');
  type Row = { stages?: string; executionProvider?: string };
  const rerun = (r: Row) => r.stages === stages && providers.includes(r.executionProvider ?? '');
  const rows: Record<string, unknown>[] = existsSync(file) ? ((JSON.parse(readFileSync(file, 'utf8')) as { rows?: Row[] }).rows ?? []).filter((r) => !rerun(r)) : [];
  const save = () =>
    ctx.writeResult('cascade-browser', {
      description:
        'a real-size Stable Cascade pack (random weights, official names and shapes) in headless Chromium: each stage read through the page path (HttpShardSource without Cache Storage, size + sha256 checked, ONNX external data), one onnxruntime-web session per part created and kept (all stages in one tab), page memory from performance.measureUserAgentSpecificMemory after each session; stoppedAt: where a limit stopped it. WebGPU is SwiftShader (CPU emulation): whether it fits, not GPU speed.',
      chromium: CHROMIUM,
      loadAverage: loadavg(),
      pack: { name: manifest.name, description: manifest.description, parts: Object.fromEntries(Object.entries(manifest.stages).map(([k, v]) => [k, v.parts?.length ?? 1])) },
      rows,
    });
  for (const ep of providers) {
    try {
      const r = await runBenchPage<PageResult>(
        'cascade',
        { pack: `/@fs${pack}/`, stages, provider: ep, ort: `/@fs${join(REPO_DIR, 'node_modules/onnxruntime-web/dist')}/` },
        { timeoutMs: 90 * 60_000, log: ctx.log, fsAllow: [pack] },
      );
      const mem = [...Object.values(r.result.memoryBytes), ...r.result.sessions.map((s) => s.memoryBytes ?? null)].filter((x): x is number => x !== null);
      rows.push({ stages, ...r.result, peakMemoryBytes: mem.length ? Math.max(...mem) : null, browserVersion: r.browserVersion });
    } catch (e) {
      rows.push({ stages, executionProvider: ep, error: e instanceof Error ? e.message : String(e) });
      ctx.log(`cascadeBrowser on ${ep} failed: ${String(e)}`);
    }
    await save();
  }
}
