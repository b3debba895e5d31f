// Every demo ONNX graph on onnxruntime-web's WebGPU execution provider (SwiftShader in headless
// Chromium) against the wasm EP: same bytes, same inputs, outputs equal to ~1e-3 relative.
// Graphs: the simulation's six encoders (docs/simulation.md §7; lowlevel_decoder is also the cortex
// view's decoder and the pack's lowLevelDecoder), the demo model pack's stages (§12), and the
// stand-in metric pack's networks. They are built here in Node, served to the page through
// page.route, and run in the page with executionProviders ['webgpu'] only. A WebGPU session that
// throws (the generation service would then move the stage to wasm), diverges, or has a node that
// ORT placed on the CPU EP other than shape arithmetic (its verbose placement log) fails the test.
// Run: MIRAGE_TEST_PORT=5201 npx playwright test test/browser/webgpu-graphs.spec.ts (WEBGPU_GRAPHS=<regex>
// restricts the graphs, e.g. '^pack/').
import { expect, test, type Page } from '@playwright/test';
import * as onnxModule from 'onnx-proto';
import { buildDemoModelPack } from '../../src/core/simulate/demoPack.ts';
import { buildEncoderGraphs } from '../../src/core/simulate/encoders.ts';
import { fitPromptClassifier } from '../../src/core/simulate/shapeFeatures.ts';
import { FEATURE_NETWORKS, standInNetworkGraph } from '../../src/core/evaluate/featurePacks.ts';
import { MemoryStore } from '../unit/generate/memory.ts';

type OnnxNs = typeof onnxModule.onnx;
const onnx: OnnxNs = (onnxModule as { onnx?: OnnxNs }).onnx ?? (onnxModule as unknown as { default: { onnx: OnnxNs } }).default.onnx;

interface Feed {
  name: string;
  dtype: 'float32' | 'int64';
  dims: number[];
  data: number[];
}
interface Probe {
  name: string;
  feeds: Feed[];
}

const SEED = 3;
const SYMBOLIC: Record<string, number> = { batch: 2, seq: 4 };

/** Deterministic inputs from the graph's declared inputs: floats in [0, 1), ids in [0, vocab). */
function feedsFor(bytes: Uint8Array, name: string, vocabSize: number): Feed[] {
  const model = onnx.ModelProto.decode(bytes);
  let s = 12345;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  return (model.graph?.input ?? []).map((inp) => {
    const t = inp.type!.tensorType!;
    const dims = (t.shape?.dim ?? []).map((d) => (d.dimParam ? (SYMBOLIC[d.dimParam] ?? 1) : Number(d.dimValue)));
    const n = dims.reduce((a, b) => a * b, 1);
    const isInt = t.elemType === onnx.TensorProto.DataType.INT64;
    const data = Array.from({ length: n }, () => (isInt ? Math.floor(rand() * vocabSize) : rand()));
    if (!isInt && inp.name === 'r') data.fill(0.6);
    if (!dims.length) throw new Error(`${name}: input ${inp.name} has no shape`);
    return { name: inp.name!, dtype: isInt ? 'int64' : 'float32', dims, data };
  });
}

/** Runs every graph on WebGPU and on wasm in the page; returns the graphs that failed or diverged. */
async function probeAll(page: Page, graphs: Map<string, Uint8Array>, vocabSize: number): Promise<string[]> {
  const only = process.env.WEBGPU_GRAPHS ? new RegExp(process.env.WEBGPU_GRAPHS) : null;
  const probes: Probe[] = [...graphs].filter(([name]) => !only || only.test(name)).map(([name, bytes]) => ({ name, feeds: feedsFor(bytes, name, vocabSize) }));
  const logs: string[] = [];
  page.on('console', (m) => logs.push(m.text()));
  await page.route('**/__webgpu_probe/**', async (route) => {
    const url = new URL(route.request().url());
    const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cross-Origin-Resource-Policy': 'same-origin' };
    if (url.pathname.endsWith('/index.html')) return route.fulfill({ status: 200, contentType: 'text/html', headers, body: '<!doctype html><title>webgpu probe</title>' });
    const key = decodeURIComponent(url.pathname.split('/__webgpu_probe/')[1]);
    const b = graphs.get(key);
    if (!b) return route.fulfill({ status: 404, body: `no graph ${key}` });
    return route.fulfill({ status: 200, contentType: 'application/octet-stream', headers, body: Buffer.from(b) });
  });
  await page.goto('/__webgpu_probe/index.html');
  expect(await page.evaluate(() => !!(navigator as Navigator & { gpu?: unknown }).gpu)).toBe(true);

  const results: { name: string; ok: boolean; error?: string; maxRel: number; outputs: string[] }[] = [];
  for (const probe of probes) {
    logs.length = 0;
    const r: { ok: boolean; error?: string; maxRel: number; outputs: string[] } = await page.evaluate(async (p: Probe) => {
      const runtimeUrl = '/src/core/onnx/runtime.ts'; // served (and compiled) by the Vite dev server
      const { ort } = (await import(/* @vite-ignore */ runtimeUrl)) as typeof import('../../src/core/onnx/runtime.ts');
      ort.env.wasm.wasmPaths = new URL('/wasm/', location.origin).href;
      const bytes = new Uint8Array(await (await fetch(`/__webgpu_probe/${encodeURIComponent(p.name)}`)).arrayBuffer());
      const feeds = (): Record<string, InstanceType<typeof ort.Tensor>> =>
        Object.fromEntries(
          p.feeds.map((f) => [f.name, f.dtype === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(f.data.map((x) => BigInt(x))), f.dims) : new ort.Tensor('float32', Float32Array.from(f.data), f.dims)]),
        );
      const runOn = async (ep: string) => {
        // verbose for the WebGPU session: ORT then logs where it placed each node
        ort.env.logLevel = ep === 'webgpu' ? 'verbose' : 'warning';
        const s = await ort.InferenceSession.create(bytes, { executionProviders: [ep], graphOptimizationLevel: 'all', logSeverityLevel: ep === 'webgpu' ? 0 : 2 });
        try {
          const out = await s.run(feeds());
          const res: Record<string, number[]> = {};
          for (const k of s.outputNames) res[k] = Array.from(out[k].data as Float32Array);
          return res;
        } finally {
          await s.release();
        }
      };
      const ref = await runOn('wasm');
      let gpu: Record<string, number[]>;
      try {
        gpu = await runOn('webgpu');
      } catch (e) {
        return { ok: false, error: String((e as Error).message ?? e).slice(0, 600), maxRel: Infinity, outputs: Object.keys(ref) };
      }
      let maxRel = 0;
      for (const k of Object.keys(ref)) {
        const a = ref[k];
        const b = gpu[k];
        let scale = 0;
        for (const v of a) scale = Math.max(scale, Math.abs(v));
        for (let i = 0; i < a.length; i++) maxRel = Math.max(maxRel, Math.abs(a[i] - b[i]) / Math.max(scale, 1e-6));
        if (b.length !== a.length) maxRel = Infinity;
      }
      return { ok: true, maxRel, outputs: Object.keys(ref) };
    }, probe);
    // ORT's verbose placement log ("Node placements", then per EP "All nodes placed on [X]" or
    // "Node(s) placed on [X]. Number of nodes: k" followed by one "Op (name)" message per node):
    // compute nodes on the CPU EP mean the graph silently left WebGPU.
    let ep = '';
    let sawWebgpu = false;
    const onCpu: string[] = [];
    for (const l of logs) {
      const head = /placed on \[(\w+)\]/.exec(l);
      if (head) {
        ep = head[1];
        if (ep === 'JsExecutionProvider' || ep === 'WebGpuExecutionProvider') sawWebgpu = true;
        continue;
      }
      const node = /VerifyEachNodeIsAssignedToAnEp\]\s+([A-Za-z]+) \(([^)]*)\)\s*$/.exec(l);
      if (node && ep === 'CPUExecutionProvider') onCpu.push(`${node[1]}(${node[2]})`);
    }
    // shape arithmetic ORT keeps on the CPU on purpose; any other op there is compute that left WebGPU
    const heavyOnCpu = onCpu.filter((n) => !/^(Shape|Slice|Concat|Unsqueeze|Squeeze|Gather|Cast|Range|Reshape)\(/.test(n));
    if (r.ok && !sawWebgpu) r.error = 'no node placed on the WebGPU EP (placement log missing?)';
    console.log(`${probe.name}: ${r.ok ? `max rel diff ${r.maxRel.toExponential(2)}` : `WEBGPU FAILED: ${r.error}`}${onCpu.length ? `; on CPU: ${onCpu.join(', ')}` : ''}`);
    results.push({ name: probe.name, ...r, error: r.error ?? (heavyOnCpu.length ? `compute nodes on the CPU EP: ${heavyOnCpu.join(', ')}` : undefined) });
  }
  return results.filter((r) => !r.ok || r.error || !(r.maxRel <= 1e-3)).map((r) => `${r.name}: ${r.error ?? r.maxRel}`);
}

async function demoGraphs(): Promise<{ graphs: Map<string, Uint8Array>; vocabSize: number }> {
  const graphs = new Map<string, Uint8Array>();
  // a fitted object-class classifier, so the prompt encoder's shape descriptor + kernel part is covered too
  const encoders = buildEncoderGraphs(SEED, null, await fitPromptClassifier(SEED, { images: 120 }));
  for (const [n, b] of Object.entries(encoders.bytes)) graphs.set(`encoder/${n}`, b);
  const store = new MemoryStore();
  const { manifest } = await buildDemoModelPack(store, { seed: SEED, encoders, trainImages: 80 });
  for (const [stage, spec] of Object.entries(manifest.stages)) graphs.set(`pack/${stage}`, store.files.get(spec.file)!);
  const vocabSize = (JSON.parse(new TextDecoder().decode(store.files.get(manifest.vocab)!)) as string[]).length;
  return { graphs, vocabSize };
}

test('every demo encoder and demo model pack graph runs on WebGPU and matches the wasm EP', async ({ page }) => {
  test.setTimeout(900_000);
  const { graphs, vocabSize } = await demoGraphs();
  expect(await probeAll(page, graphs, vocabSize)).toEqual([]);
});

test('the stand-in metric pack networks run on WebGPU and match the wasm EP', async ({ page }) => {
  test.setTimeout(900_000);
  const graphs = new Map<string, Uint8Array>();
  for (const net of FEATURE_NETWORKS) graphs.set(`metric/${net}`, standInNetworkGraph(net, SEED).toBytes());
  expect(await probeAll(page, graphs, 1)).toEqual([]);
});
