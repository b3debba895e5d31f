// A tiny, valid bundle for browser tests that must not depend on the demo build: 1 subject, 18
// stimuli (6 simple, 6 complex, 6 conceptual), vision + imagery trials, two heads and identification
// features. Betas are a linear image of the stimulus features plus noise, and the image head is
// that map's transpose, so decoding identifies the stimulus well above chance.
import { BundleWriter, type ShardSink } from '../../../src/core/bundle/writer.ts';
import { addHead } from '../../../src/core/decode/headBuilder.ts';
import type { Manifest, Stimulus, StimulusSet, Trial } from '../../../src/core/bundle/manifest.ts';
import { matrix } from '../../../src/core/tensor/matrix.ts';
import { mulberry32 } from '../../../src/core/base/rng.ts';

const VOX = 240;
const DIM = 24;
const SIZE = 32;
const GALLERY = 40;

function rng(seed: number) {
  const u = mulberry32(seed);
  return () => {
    const a = Math.max(u(), 1e-12);
    return Math.sqrt(-2 * Math.log(a)) * Math.cos(2 * Math.PI * u());
  };
}

function image(seed: number, kind: StimulusSet): Uint8Array {
  const px = new Uint8Array(SIZE * SIZE * 3).fill(128);
  const angle = (seed % 6) * (Math.PI / 6);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const dx = x - SIZE / 2;
      const dy = y - SIZE / 2;
      const d = Math.abs(dx * Math.sin(angle) - dy * Math.cos(angle));
      const o = 3 * (y * SIZE + x);
      if (kind === 'simple' && d < 2.5) px.fill(0, o, o + 3);
      if (kind !== 'simple') {
        px[o] = (x * 8 + seed * 40) & 255;
        px[o + 1] = (y * 8 + seed * 90) & 255;
        px[o + 2] = (seed * 30) & 255;
      }
    }
  }
  return px;
}

export async function writeTinyBundle(sink: ShardSink, seed = 7): Promise<Manifest> {
  const w = new BundleWriter(sink);
  const randn = rng(seed);
  const sets: StimulusSet[] = ['simple', 'complex', 'conceptual'];
  // Stimulus features [18, DIM] and gallery features [GALLERY, DIM].
  const feat = Float32Array.from({ length: 18 * DIM }, randn);
  const gallery = Float32Array.from({ length: GALLERY * DIM }, randn);
  // Encoding map M [DIM, VOX]; betas = f·M + noise; head A = Mᵀ/VOX·k so that x·A ≈ f.
  const M = Float32Array.from({ length: DIM * VOX }, randn);
  const stimuli: Stimulus[] = [];
  for (let id = 0; id < 18; id++) {
    const set = sets[Math.floor(id / 6)];
    const s: Stimulus = { id, name: `${set} ${id % 6}`, set, cue: String.fromCharCode(65 + id), caption: `a ${set} test stimulus number ${id}` };
    if (set !== 'conceptual') s.image = w.addTensor('stimuli/images.bin', image(id, set), 'uint8', [SIZE, SIZE, 3]);
    else {
      const v = new Uint8Array(2 * SIZE * SIZE * 3);
      v.set(image(id, 'complex'), 0);
      v.set(image(id + 1, 'complex'), SIZE * SIZE * 3);
      s.variants = w.addTensor('stimuli/images.bin', v, 'uint8', [2, SIZE, SIZE, 3]);
    }
    stimuli.push(s);
  }
  const trials: Trial[] = [];
  const runs = { simple: 'A', complex: 'B', conceptual: 'C' } as const;
  for (const condition of ['vision', 'imagery'] as const) {
    const reps = condition === 'vision' ? 4 : 6;
    const noise = condition === 'vision' ? 1.0 : 2.5;
    for (const s of stimuli) {
      for (let r = 0; r < reps; r++) {
        const x = new Float32Array(VOX);
        for (let v = 0; v < VOX; v++) {
          let acc = 0;
          for (let k = 0; k < DIM; k++) acc += feat[s.id * DIM + k] * M[k * VOX + v];
          x[v] = acc / Math.sqrt(DIM) + noise * randn();
        }
        const run = condition === 'vision' ? `vis${runs[s.set]}` : `img${runs[s.set]}_${r < reps / 2 ? 1 : 2}`;
        const ref = w.addTensor('subj01/betas.bin', x, 'float32', [VOX]);
        trials.push({ subject: 1, run, stimulus: s.id, condition, repeat: r, betas: { shard: ref.shard, offset: ref.offset } });
      }
    }
  }
  const A = matrix(VOX, DIM);
  for (let v = 0; v < VOX; v++) for (let k = 0; k < DIM; k++) A.data[v * DIM + k] = M[k * VOX + v] / VOX;
  const B = matrix(DIM, DIM);
  for (let k = 0; k < DIM; k++) B.data[k * DIM + k] = 1;
  const fidelity = { r2: 1, trials: 0, description: 'exact (test bundle)' };
  const imageHead = addHead(w, 1, {
    name: 'image',
    role: 'test image embedding',
    outputShape: [DIM],
    A,
    B,
    intercept: new Float32Array(DIM),
    penalty: 1,
    fidelity,
  });
  const textB = matrix(DIM, 4 * 8, Float32Array.from({ length: DIM * 32 }, randn));
  const textHead = addHead(w, 1, {
    name: 'text',
    role: 'test token embeddings',
    outputShape: [4, 8],
    A,
    B: textB,
    intercept: new Float32Array(32),
    penalty: 1,
    fidelity,
  });
  const galleryPx = new Uint8Array(GALLERY * SIZE * SIZE * 3);
  for (let i = 0; i < GALLERY; i++) galleryPx.set(image(100 + i, i % 2 ? 'simple' : 'complex'), i * SIZE * SIZE * 3);
  return w.finish({
    name: 'tiny test bundle',
    description: 'written by test/browser/helpers/tinyBundle.ts',
    provenance: {
      kind: 'simulated',
      command: 'test/browser/globalSetup.ts',
      createdAt: new Date(0).toISOString(),
      generator: { name: 'tinyBundle', version: '1' },
      seed,
      sources: [],
    },
    imageSize: SIZE,
    subjects: [
      { id: 1, label: 'subj01', role: 'decoded', voxelCount: VOX, betaDtype: 'float32', surfaces: [], rois: [], heads: [imageHead, textHead] },
    ],
    stimuli,
    trials,
    features: [
      { name: 'stimuli', head: 'image', values: w.addTensor('features/stimuli.bin', feat, 'float32', [18, DIM]), ids: stimuli.map((s) => s.id) },
      { name: 'gallery', head: 'image', values: w.addTensor('features/gallery.bin', gallery, 'float32', [GALLERY, DIM]), ids: Array.from({ length: GALLERY }, (_, i) => i) },
    ],
    gallery: {
      images: w.addTensor('gallery/images.bin', galleryPx, 'uint8', [GALLERY, SIZE, SIZE, 3]),
      captions: Array.from({ length: GALLERY }, (_, i) => `training image ${i}`),
    },
  });
}
