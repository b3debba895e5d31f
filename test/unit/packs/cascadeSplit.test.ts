// Stage C cut into consecutive parts (cascade/split.ts) and run as a chain (generate/stageChain.ts)
// computes what the unsplit graph computes, on the reduced random checkpoint of cascadeC.test.ts;
// the hand-offs are the few tensors the cut points carry, and each is freed after its last reader.
import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../../src/core/generate/packers/checkpoint.ts';
import type { StagePartGraph } from '../../../src/core/generate/packers/cascade/pack.ts';
import { planParts } from '../../../src/core/generate/packers/cascade/split.ts';
import { buildStageC, stageCParamCount, stageCShapes, stageCUnits } from '../../../src/core/generate/packers/cascade/stageC.ts';
import { checkChain, lastReaders, runChain, type ChainLink } from '../../../src/core/generate/stageChain.ts';
import type { LoadedModelPack } from '../../../src/core/generate/modelPack.ts';
import { PackSessions } from '../../../src/core/generate/sessions.ts';
import { stageCSignature } from '../../../src/core/generate/packers/cascade/stageC.ts';
import { createSession, ort } from '../../../src/core/onnx/runtime.ts';
import { checkpoint, stageCInputs, TINY_C } from './cascadeCFixture.ts';

async function build(ck: Checkpoint, maxPartBytes?: number): Promise<StagePartGraph[]> {
  const parts: StagePartGraph[] = [];
  for await (const p of buildStageC(ck, TINY_C, { maxPartBytes })) parts.push(p);
  return parts;
}
async function links(parts: StagePartGraph[]): Promise<{ links: ChainLink[]; disposed: string[] }> {
  const disposed: string[] = [];
  const out: ChainLink[] = [];
  for (const p of parts) {
    const s = await createSession(p.graph.toBytes());
    out.push({
      inputs: Object.keys(p.inputs),
      outputs: Object.keys(p.outputs),
      async run(feeds, fetches) {
        const res = await s.run(feeds, fetches);
        // Record which hand-offs the chain frees (a CPU tensor's dispose is otherwise a no-op).
        for (const [n, t] of Object.entries(res)) {
          const d = t.dispose.bind(t);
          t.dispose = () => {
            disposed.push(n);
            d();
          };
        }
        return res;
      },
    });
  }
  return { links: out, disposed };
}

describe('stage C as a chain of parts', () => {
  it('the chained parts equal the unsplit graph, with the weights divided between them', async () => {
    const ck = await checkpoint('stage_c.safetensors');
    const [whole] = await build(ck);
    const s = await createSession(whole.graph.toBytes());
    const ref = (await s.run(await stageCInputs())).pred.data as Float32Array;
    // ~1/5 of the weights per part: 6+ parts, cuts inside the down path, across the skip and inside the up path.
    const parts = await build(ck, (stageCParamCount(TINY_C) * 4) / 5);
    expect(parts.length).toBeGreaterThanOrEqual(5);
    expect(parts.reduce((a, p) => a + p.parameters, 0)).toBe(stageCParamCount(TINY_C));
    expect(Object.keys(parts[0].inputs).sort()).toEqual(['clip_img', 'clip_text', 'clip_text_pooled', 'r', 'x']);
    expect(Object.keys(parts[parts.length - 1].outputs)).toEqual(['pred']);
    // Every hand-off is the hidden state, the conditioning, the r embedding or the level-0 skip.
    const handoffs = parts.flatMap((p) => Object.keys(p.outputs)).filter((n) => n !== 'pred');
    expect(new Set(handoffs.map((n) => n.split('.')[0]))).toEqual(new Set(['h', 'cond', 'r_embed', 'skip_0']));
    for (const p of parts.slice(1)) expect(Object.keys(p.inputs).filter((n) => !n.includes('.')).length).toBe(0);
    const manifestParts = parts.map((p) => ({ file: `${p.base}.onnx`, inputs: Object.keys(p.inputs), outputs: Object.values(p.outputs) }));
    checkChain('modelpack.json', 'stages.priorDenoiser', manifestParts, ['x', 'r', 'clip_text', 'clip_text_pooled', 'clip_img'], ['pred']);
    const chain = await links(parts);
    const out = await runChain(chain.links, await stageCInputs(), ['pred']);
    const pred = out.pred.data as Float32Array;
    let diff = 0;
    for (let i = 0; i < ref.length; i++) diff = Math.max(diff, Math.abs(pred[i] - ref[i]));
    expect(diff).toBeLessThan(1e-5);
    // Every hand-off was freed once, after its last reader; the stage output was not.
    expect(chain.disposed.sort()).toEqual(handoffs.sort());
  });

  it('PackSessions runs a pack\'s chained priorDenoiser through its parts (the pipeline\'s path) and equals the unsplit graph', async () => {
    const ck = await checkpoint('stage_c.safetensors');
    const [whole] = await build(ck);
    const s = await createSession(whole.graph.toBytes());
    const feeds = await stageCInputs();
    const ref = (await s.run(feeds)).pred.data as Float32Array;
    const parts = await build(ck, (stageCParamCount(TINY_C) * 4) / 3);
    expect(parts.length).toBeGreaterThanOrEqual(3);
    const sig = stageCSignature(TINY_C);
    // Only what PackSessions reads of a loaded pack: the stage's entry and its parts.
    const pack = {
      manifest: { stages: { priorDenoiser: { file: `${parts[0].base}.onnx`, role: 'stage C', kind: 'real', ...sig, settings: {} } } },
      onnx: {},
      parts: { priorDenoiser: parts.map((p) => ({ file: `${p.base}.onnx`, inputs: Object.keys(p.inputs), outputs: Object.keys(p.outputs), onnx: p.graph.toBytes(), externalData: [] })) },
    } as unknown as LoadedModelPack;
    const sessions = new PackSessions(pack);
    try {
      const out = await sessions.runTensors('priorDenoiser', feeds, ['pred']);
      const pred = out.pred.data as Float32Array;
      let diff = 0;
      for (let i = 0; i < ref.length; i++) diff = Math.max(diff, Math.abs(pred[i] - ref[i]));
      expect(diff).toBeLessThan(1e-5);
    } finally {
      await sessions.dispose();
    }
  });

  it('cut points follow the weight budget; a part never splits a block', () => {
    const units = stageCUnits(TINY_C, stageCShapes(TINY_C));
    const groups = planParts(units, 30000);
    expect(groups.flat()).toEqual(units.map((_, i) => i));
    for (const g of groups) {
      const sum = g.reduce((a, i) => a + units[i].params, 0);
      expect(g.length === 1 || sum <= 30000).toBe(true);
    }
  });

  it('lastReaders frees a hand-off after the last part that reads it; checkChain names an unknown input', () => {
    const l = [
      { inputs: ['x'], outputs: ['a', 'b'] },
      { inputs: ['a'], outputs: ['c'] },
      { inputs: ['b', 'c'], outputs: ['pred'] },
    ];
    expect(Object.fromEntries(lastReaders(l, ['pred']))).toEqual({ a: 1, b: 2, c: 2 });
    const parts = l.map((p, k) => ({ file: `p${k}.onnx`, inputs: p.inputs, outputs: p.outputs.map((name) => ({ name, dtype: 'float32' as const, shape: [1] })) }));
    expect(() => checkChain('m.json', 'stages.priorDenoiser', [parts[0], parts[2]], ['x'], ['pred'])).toThrow(/stages\.priorDenoiser\.parts\.1\.inputs: part 1 reads "c"/);
    expect(() => checkChain('m.json', 'stages.priorDenoiser', parts.slice(0, 2), ['x'], ['pred'])).toThrow(/no part writes the stage output "pred"/);
  });

  it('a part that fails frees what the chain made so far', async () => {
    const disposed: string[] = [];
    const t = (n: string) => {
      const x = new ort.Tensor('float32', new Float32Array(1), [1]);
      x.dispose = () => disposed.push(n);
      return x;
    };
    const failing: ChainLink[] = [
      { inputs: ['x'], outputs: ['a'], run: async () => ({ a: t('a') }) },
      { inputs: ['a'], outputs: ['pred'], run: async () => Promise.reject(new Error('kernel failed')) },
    ];
    await expect(runChain(failing, { x: t('x') }, ['pred'])).rejects.toThrow('kernel failed');
    expect(disposed).toEqual(['a']);
  });
});
