// The demo metric pack (the demo's image encoder as the CLIP column) and the brain-correlation
// fallbacks, on an in-memory demo "bundle folder" holding models/models.json + image_encoder.onnx.
import { describe, expect, it } from 'vitest';
import { BundleError } from '../../../src/core/base/errors.ts';
import { sha256Hex } from '../../../src/core/bundle/sha256.ts';
import { MemoryStore as MemorySource } from '../../../src/core/bundle/memoryStore.ts';
import type { Manifest } from '../../../src/core/bundle/manifest.ts';
import { IMAGE_SIZE } from '../../../src/core/simulate/dims.ts';
import { buildEncoderGraphs } from '../../../src/core/simulate/encoders.ts';
import { renderScene } from '../../../src/core/simulate/render.ts';
import { testStimuli } from '../../../src/core/simulate/stimuli.ts';
import { createSession, runFloat } from '../../../src/core/onnx/runtime.ts';
import { DEMO_METRIC_LABEL, buildDemoMetricPack, metricPackNotes } from '../../../src/core/evaluate/demoMetricPack.ts';
import { extractFeatures, featureMetric, loadMetricPack } from '../../../src/core/evaluate/featurePacks.ts';
import { NEEDS_ENCODING_PACK, brainScorerFor } from '../../../src/core/evaluate/brainModel.ts';
import { fromUint8 } from '../../../src/core/evaluate/image.ts';
import { resizeBilinear } from '../../../src/core/evaluate/resize.ts';


async function demoFolder(): Promise<MemorySource> {
  const g = buildEncoderGraphs(3, null);
  const bytes = g.bytes.image_encoder;
  const info = g.info.find((i) => i.name === 'image_encoder')!;
  const src = new MemorySource();
  src.files.set(info.file, bytes);
  const listing = { kind: 'simulated', models: [{ ...info, bytes: bytes.byteLength, sha256: await sha256Hex(bytes) }] };
  src.files.set('models/models.json', new TextEncoder().encode(JSON.stringify(listing)));
  return src;
}

describe('demo metric pack', () => {
  it('wraps the demo image encoder as the CLIP network; identification on the simple stimuli', async () => {
    const folder = await demoFolder();
    const out = new MemorySource();
    const m = await buildDemoMetricPack(folder, out, { command: 'test' });
    expect(Object.keys(m.networks)).toEqual(['clip']);
    expect(m.provenance.kind).toBe('simulated');
    expect(m.networks.clip!.role).toBe(DEMO_METRIC_LABEL);
    expect(m.networks.clip!.preprocess).toMatchObject({ resize: IMAGE_SIZE, mean: [0, 0, 0], std: [1, 1, 1] });
    expect(metricPackNotes(m)).toEqual([`CLIP column: ${DEMO_METRIC_LABEL}`]);

    const pack = await loadMetricPack(out); // verifies size + sha256 of what was written
    const spec = pack.manifest.networks.clip!;
    const session = await createSession(pack.onnx.clip!);
    const run = (data: Float32Array, dims: number[]) => runFloat(session, { [spec.input.name]: { data, dims } }, spec.output.name);
    const simple = testStimuli(3).filter((s) => s.set === 'simple' && s.scene);
    const gts = simple.map((s) => fromUint8(renderScene(s.scene!, IMAGE_SIZE), IMAGE_SIZE, IMAGE_SIZE, 3));
    // 512x512 inputs (as MIRAGE's evaluation) are resized back to the encoder's 128 by the preprocess
    const big = gts.map((im) => resizeBilinear(im, 512, 512));
    const gtF = await extractFeatures(gts, spec, run);
    expect(gtF.cols).toBe(128);
    const self = featureMetric('identification', gtF, await extractFeatures(big, spec, run));
    expect(Math.min(...self)).toBe(1);
    const shuffled = featureMetric('identification', gtF, await extractFeatures([...gts.slice(1), gts[0]], spec, run));
    expect(shuffled.reduce((a, b) => a + b, 0) / shuffled.length).toBeLessThan(0.5);
  }, 60_000);

  it('rejects a tampered encoder, naming the file and field', async () => {
    const folder = await demoFolder();
    const enc = folder.files.get('models/image_encoder.onnx')!.slice();
    enc[100] ^= 1;
    folder.files.set('models/image_encoder.onnx', enc);
    const err = await buildDemoMetricPack(folder, new MemorySource()).catch((e) => e);
    expect(err).toBeInstanceOf(BundleError);
    expect(err.message).toMatch(/image_encoder\.onnx/);
    expect(err.message).toMatch(/sha256/);
  });

  it('brain correlation: real bundles are told they need an encoding-model pack', () => {
    const bundle = { manifest: { extensions: {} } as unknown as Manifest, tensor: async () => [], trialBetas: async () => new Float32Array() };
    expect(brainScorerFor(bundle, null, 128)).toEqual({ scorer: null, reason: NEEDS_ENCODING_PACK });
  });
});
