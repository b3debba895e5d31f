// GiT caption decoding with and without the key/value cache, at GiT-large-coco's real decoder size
// (257 image tokens of 1024, 6 layers of 768, 12 heads, vocabulary 30522) with random weights under
// the official key names (the graph is the one `mirage pack git` writes; weights do not change its
// cost). Both ways decode the same 20 tokens ([SEP] disabled so neither stops early), one after the
// other in the same process on wasm, so their ratio holds on a busy machine; absolute times do not.
// `--quick`: 2 layers, vocabulary 2048, 8 tokens.
import os from 'node:os';
import { batchNoise } from '../src/core/base/rng.ts';
import { greedyCaption, type CaptionDecoderRunner } from '../src/core/generate/caption.ts';
import type { Checkpoint } from '../src/core/generate/packers/checkpoint.ts';
import { buildGitDecoderGraph, gitDecoderShapes, gitImageTokens, GIT_LARGE_COCO, GIT_CACHE } from '../src/core/generate/packers/git.ts';
import { createSession, ort } from '../src/core/onnx/runtime.ts';
import type { TensorSpec } from '../src/core/generate/modelPack.ts';
import { timeIt, type BenchContext } from './lib.ts';

export default async function run(ctx: BenchContext): Promise<void> {
  const cfg = ctx.quick ? { ...GIT_LARGE_COCO, layers: 2, vocab: 2048 } : GIT_LARGE_COCO;
  const tokens = ctx.quick ? 8 : 20;
  const shapes = gitDecoderShapes(cfg);
  // Seeded random weights, scaled by 1/sqrt(fan-in) (LayerNorm weights near 1).
  let seed = 1;
  const ck: Checkpoint = {
    label: 'random',
    files: ['random'],
    tensors: new Map([...shapes].map(([name, shape]) => [name, { name, shape, dtype: 'F32', file: 'random' }])),
    read: async (name) => {
      const shape = shapes.get(name) as number[];
      const n = shape.reduce((a, b) => a * b, 1);
      const x = batchNoise(seed++, 1, n, 'bench/git');
      const scale = /LayerNorm\.weight|visual_projection\.1\.weight/.test(name) ? 0.1 : 1 / Math.sqrt(shape.length === 2 ? shape[1] : 1);
      for (let i = 0; i < n; i++) x[i] = (/LayerNorm\.weight|visual_projection\.1\.weight/.test(name) ? 1 : 0) + scale * x[i];
      return x;
    },
  };
  const t0 = performance.now();
  const g = await buildGitDecoderGraph(ck, cfg, { check: false });
  const session = await createSession(g.toBytes(), { executionProviders: ['wasm'] });
  const buildMs = performance.now() - t0;
  const NI = gitImageTokens(cfg);
  const L = 2 * cfg.layers;
  const D = cfg.hidden / cfg.heads;
  const spec = (name: string, shape: (string | number)[], dtype: TensorSpec['dtype'] = 'float32'): TensorSpec => ({ name, dtype, shape });
  const base = {
    file: 'git_text_decoder.onnx',
    inputs: { prompt_features: spec('prompt_features', ['batch', 'image_tokens', cfg.vision.width]), input_ids: spec('input_ids', ['batch', 'seq'], 'int64'), [GIT_CACHE.past]: spec(GIT_CACHE.past, [L, 'batch', cfg.heads, 'past', D]) },
    outputs: { logits: spec('logits', ['batch', 'seq', cfg.vocab]), [GIT_CACHE.present]: spec(GIT_CACHE.present, [L, 'batch', cfg.heads, 'total', D]) },
  };
  let calls: number[] = [];
  const cached: CaptionDecoderRunner = {
    spec: { ...base, settings: { bosTokenId: 101, eosTokenId: -1, kvCache: { past: GIT_CACHE.past, present: GIT_CACHE.present } } },
    run: async (feeds, outputs) => {
      const c0 = performance.now();
      const res = await session.run(feeds, [...outputs]);
      calls.push(performance.now() - c0);
      return Object.fromEntries(outputs.map((o) => [o, res[o]]));
    },
    values: async (t) => t.data as Float32Array,
    release: () => {},
  };
  // The plain contract: no cache declared, the whole prefix each token (an empty past for this graph).
  const plain: CaptionDecoderRunner = {
    ...cached,
    spec: { ...cached.spec, settings: { bosTokenId: 101, eosTokenId: -1 } },
    run: (feeds, outputs) => cached.run({ ...feeds, [GIT_CACHE.past]: new ort.Tensor('float32', new Float32Array(0), [L, 1, cfg.heads, 0, D]) }, outputs),
  };
  const prompt = batchNoise(7, 1, NI * cfg.vision.width, 'bench/git-prompt');
  const results: Record<string, { ms: number[]; p50: number; firstCallMs: number; lastCallMs: number; medianLaterCallMs: number; calls: number; ids: number[] }> = {};
  const loadBefore = os.loadavg();
  for (const [name, dec] of [['cached', cached], ['plain', plain]] as const) {
    let ids: number[] = [];
    let last: number[] = [];
    const t = await timeIt(async () => {
      calls = [];
      ids = await greedyCaption(dec, prompt, tokens);
      last = calls;
    }, ctx.quick ? 1 : 2, 0);
    const later = last.slice(1).sort((a, b) => a - b);
    results[name] = { ms: t.ms, p50: t.p50, firstCallMs: last[0], lastCallMs: last[last.length - 1], medianLaterCallMs: later[Math.floor(later.length / 2)], calls: last.length, ids };
    ctx.log(`git caption ${name}: ${t.p50.toFixed(0)} ms for ${tokens} tokens (${(t.p50 / tokens).toFixed(1)} ms/token)`);
  }
  await session.release();
  const same = results.cached.ids.join() === results.plain.ids.join();
  await ctx.writeResult('gitCaption', {
    what: `greedy caption of one row, ${tokens} tokens, GiT text decoder (${cfg.layers} layers of ${cfg.hidden}, vocabulary ${cfg.vocab}, ${NI} image tokens), random weights`,
    backend: 'onnxruntime-web wasm (Node)',
    graphBuildAndSessionMs: Math.round(buildMs),
    cached: results.cached,
    plain: results.plain,
    sameTokens: same,
    plainOverCached: results.plain.p50 / results.cached.p50,
    loadAverage: { before: loadBefore, after: os.loadavg() },
  });
}
