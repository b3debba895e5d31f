import { describe, expect, it } from 'vitest';
import {
  FEATURE_NETWORK_REFERENCE,
  buildStandInMetricPack,
  extractFeatures,
  featureMetric,
  loadMetricPack,
  parseMetricPack,
  preprocessForNetwork,
} from '../../../src/core/evaluate/featurePacks.ts';
import { MemoryStore } from '../../../src/core/bundle/memoryStore.ts';
import { createSession, runFloat } from '../../../src/core/onnx/runtime.ts';
import type { FloatImage } from '../../../src/core/evaluate/image.ts';
import { image } from './fixtures.ts';

describe('feature-network preprocessing', () => {
  it('resizes the shorter edge and normalises per channel (CHW)', () => {
    const img: FloatImage = { data: new Float32Array(512 * 512 * 3).fill(0.485), width: 512, height: 512, channels: 3 };
    const p = preprocessForNetwork(img, FEATURE_NETWORK_REFERENCE.alex2.preprocess);
    expect([p.height, p.width]).toEqual([256, 256]);
    expect(p.data[0]).toBeCloseTo(0, 6); // (0.485 - 0.485) / 0.229
    expect(p.data[256 * 256]).toBeCloseTo((0.485 - 0.456) / 0.224, 6);
    const clip = preprocessForNetwork(img, FEATURE_NETWORK_REFERENCE.clip.preprocess);
    expect([clip.height, clip.width]).toEqual([224, 224]);
    expect(clip.data[0]).toBeCloseTo((0.485 - 0.48145466) / 0.26862954, 6);
  });
});

describe('stand-in metric pack', () => {
  it('builds, verifies, and runs at the real output shapes', async () => {
    const store = new MemoryStore('mem');
    const m = await buildStandInMetricPack(store, { seed: 3, networks: ['alex2', 'clip'] });
    expect(m.provenance.kind).toBe('stand-in');
    const pack = await loadMetricPack(store);
    expect(Object.keys(pack.onnx).sort()).toEqual(['alex2', 'clip']);
    const imgs = ['stim0_u8', 'stim1_u8', 'stim4_u8'].map(image);
    for (const net of ['alex2', 'clip'] as const) {
      const spec = pack.manifest.networks[net]!;
      const session = await createSession(pack.onnx[net]!);
      const run = (data: Float32Array, dims: number[]) => runFloat(session, { [spec.input.name]: { data, dims } }, spec.output.name);
      const f = await extractFeatures(imgs, spec, run, { batch: 2 });
      const per = (FEATURE_NETWORK_REFERENCE[net].outputShape.slice(1) as number[]).reduce((a, b) => a * b, 1);
      expect([f.rows, f.cols]).toEqual([3, per]);
      const same = featureMetric(spec.use, f, f);
      if (spec.use === 'identification') expect(same).toEqual([1, 1, 1]);
      else same.forEach((d) => expect(d).toBeLessThan(1e-9));
    }
    // tampering is caught
    const bytes = store.files.get('clip.onnx')!;
    store.files.set('clip.onnx', bytes.slice(0, bytes.length - 1));
    await expect(loadMetricPack(store)).rejects.toThrow(/clip\.onnx/);
  }, 120000);
  it('rejects a manifest whose network file is not listed', () => {
    expect(() =>
      parseMetricPack({
        format: 'mirage-metric-pack', version: 1, name: 'x',
        provenance: { kind: 'real', command: '', createdAt: '' },
        files: [],
        networks: { alex2: { file: 'a.onnx', role: '', layer: '', kind: 'real', use: 'identification', preprocess: FEATURE_NETWORK_REFERENCE.alex2.preprocess, input: { name: 'x', dtype: 'float32', shape: ['b', 3, 256, 256] }, output: { name: 'y', dtype: 'float32', shape: ['b', 1] } } },
      }, 'p.json'),
    ).toThrow(/p\.json: networks\.alex2\.file/);
  });
});
