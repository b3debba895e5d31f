// The unconditional CLIP text constants of `mirage pack stable-cascade --clip-text` (issue 15): the
// ViT-bigG/14 text tower at its real width (1280, 20 heads, MLP 5120, 49408 tokens, 77 positions)
// with random weights under the official key names, fewer layers (the layers are identical, so the
// 32-layer time is projected per layer). encodeEmptyCaption as the command runs it: token rows looked
// up outside the graph, 4 layers per onnxruntime session (wasm, Node), each released before the
// next. Wall time includes building each graph and creating its session, which dominate (77 tokens
// make the arithmetic small). `--quick`: 2 layers, vocabulary 2048.
import os from 'node:os';
import { mulberry32 } from '../src/core/base/rng.ts';
import { bytesSource } from '../src/core/formats/byteSource.ts';
import { encodeSafetensors } from '../src/core/formats/safetensors.ts';
import { CLIP_TEXT_BIGG, clipTextParamCount, clipTextShapes, DEFAULT_LAYERS_PER_GRAPH, encodeEmptyCaption } from '../src/core/generate/packers/cascade/clipText.ts';
import { openCheckpoint } from '../src/core/generate/packers/checkpoint.ts';
import type { BenchContext } from './lib.ts';

export default async function run(ctx: BenchContext): Promise<void> {
  const cfg = ctx.quick ? { ...CLIP_TEXT_BIGG, layers: 2, vocab: 2048 } : { ...CLIP_TEXT_BIGG, layers: 8 };
  const rand = mulberry32(15);
  const bytes = encodeSafetensors(
    [...clipTextShapes(cfg)].map(([name, shape]) => {
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      // LayerNorm gains 1, everything else small: activations stay finite through the layers.
      for (let i = 0; i < data.length; i++) data[i] = /layer_norm.*weight$/.test(name) ? 1 : (rand() - 0.5) * 0.04;
      return { name, dtype: 'F32' as const, shape, data };
    }),
  );
  const ck = await openCheckpoint({ label: 'random-bigg-text', open: async (p) => (p === 'model.safetensors' ? bytesSource(bytes, p) : null) });
  const loadBefore = os.loadavg();
  let peak = process.memoryUsage().rss;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const graphs: { label: string; ms: number }[] = [];
  let last = performance.now();
  const t0 = last;
  const r = await encodeEmptyCaption(ck, cfg, {
    onProgress: (_done, _total, label) => {
      const now = performance.now();
      graphs.push({ label, ms: Math.round(now - last) });
      last = now;
    },
  });
  const ms = performance.now() - t0;
  clearInterval(sample);
  peak = Math.max(peak, process.memoryUsage().rss);
  const perLayer = ms / cfg.layers;
  ctx.log(`clip text (${cfg.layers} layers of bigG width): ${ms.toFixed(0)} ms, ${perLayer.toFixed(0)} ms/layer, projected 32 layers ${((perLayer * 32) / 1000).toFixed(0)} s; peak RSS ${(peak / 1e9).toFixed(2)} GB`);
  await ctx.writeResult('clipText', {
    what: `encodeEmptyCaption: CLIP ViT-bigG/14 text tower at real width, ${cfg.layers} of 32 layers, vocabulary ${cfg.vocab}, random weights, ${DEFAULT_LAYERS_PER_GRAPH} layers per session`,
    backend: 'onnxruntime-web wasm (Node, one thread)',
    checkpointBytes: bytes.byteLength,
    parameters: clipTextParamCount(cfg).total,
    wallMs: Math.round(ms),
    // The first entry spans the embedding lookup; each later one the graph before it (build, session, run).
    steps: graphs,
    msPerLayer: Math.round(perLayer),
    projected32LayersS: Math.round((perLayer * 32) / 1000),
    peakRssBytes: peak,
    outputsFinite: r.clipText.every(Number.isFinite) && r.clipTextPooled.every(Number.isFinite),
    loadAverage: { before: loadBefore, after: os.loadavg() },
  });
}
