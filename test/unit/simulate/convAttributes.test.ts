// onnxruntime-web's WebGPU EP rejects a Conv whose `dilations` attribute is absent ("dilations should
// be 2D"), although ONNX defines the default. Every Conv of the demo graphs must therefore spell out
// all its attributes (the browser proof is test/browser/webgpu-graphs.spec.ts; this guard runs anywhere).
import { describe, expect, it } from 'vitest';
import * as onnxModule from 'onnx-proto';
import { buildEncoderGraphs, ENCODER_NAMES } from '../../../src/core/simulate/encoders.ts';
import { buildDemoModelPack } from '../../../src/core/simulate/demoPack.ts';
import { buildStandInPack } from '../../../src/core/generate/standInPack.ts';
import { MemoryStore } from '../generate/memory.ts';

type OnnxNs = typeof onnxModule.onnx;
const onnx: OnnxNs = (onnxModule as { onnx?: OnnxNs }).onnx ?? (onnxModule as unknown as { default: { onnx: OnnxNs } }).default.onnx;

function convsMissingAttributes(bytes: Uint8Array): string[] {
  const model = onnx.ModelProto.decode(bytes);
  const bad: string[] = [];
  for (const n of model.graph?.node ?? []) {
    if (n.opType !== 'Conv') continue;
    const attrs = new Map((n.attribute ?? []).map((a) => [a.name, a]));
    for (const k of ['kernel_shape', 'strides', 'pads', 'dilations']) if (!attrs.has(k)) bad.push(`${n.name}: no ${k}`);
    const d = attrs.get('dilations');
    if (d && (d.ints ?? []).map(Number).join(',') !== '1,1') bad.push(`${n.name}: dilations ${d.ints}`);
  }
  return bad;
}

describe('demo graphs are written for the WebGPU EP', () => {
  it('every Conv of every demo encoder and demo pack graph has explicit kernel_shape, strides, pads and dilations [1, 1]', async () => {
    const enc = buildEncoderGraphs(2, null);
    let convs = 0;
    for (const n of ENCODER_NAMES) {
      expect(convsMissingAttributes(enc.bytes[n]), n).toEqual([]);
      convs += (onnx.ModelProto.decode(enc.bytes[n]).graph?.node ?? []).filter((x) => x.opType === 'Conv').length;
    }
    expect(convs).toBeGreaterThanOrEqual(7); // the check saw the Convs (image 4, low-level 2, patch 2)
    const store = new MemoryStore();
    await buildDemoModelPack(store, { seed: 2, encoders: enc, trainImages: 40 });
    for (const [path, bytes] of store.files) if (path.endsWith('.onnx')) expect(convsMissingAttributes(bytes), path).toEqual([]);
  }, 60_000);

  it('so does every Conv of the stand-in pack (real signatures, tiny weights)', async () => {
    const store = new MemoryStore();
    await buildStandInPack(store, { seed: 2 });
    const graphs = [...store.files].filter(([p]) => p.endsWith('.onnx'));
    expect(graphs.length).toBe(7);
    for (const [path, bytes] of graphs) expect(convsMissingAttributes(bytes), path).toEqual([]);
  }, 60_000);
});
