// A composite model pack for the browser specs (docs/model-packs.md, "Composite packs"): the demo
// pack of the reconstruction bundle (helpers/reconBundle.ts) as base, its lowLevelDecoder taken from
// a VDVAE stage pack and its imageEncoder from a CLIP stage pack (float32 + float16 builds), both
// made by the real packers (`mirage pack vdvae|clip`) at reduced width and depth from random
// checkpoints with the official key names, sized to the demo's decoded heads (384 low-level
// latents, 17x32 retrieval tokens) so the whole pipeline runs on them. Random weights: the images
// mean nothing; the spec checks loading, caching, precision choice and placement.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../../../src/core/base/rng.ts';
import type { ShardSink } from '../../../src/core/bundle/writer.ts';
import type { Checkpoint } from '../../../src/core/generate/packers/checkpoint.ts';
import { clipVisionShapes, type ClipVisionConfig } from '../../../src/core/generate/packers/clip.ts';
import { packClip } from '../../../src/core/generate/packers/clipPack.ts';
import { vdvaeDecoderShapes, vdvaeEncoderShapes, type VdvaeConfig } from '../../../src/core/generate/packers/vdvae.ts';
import { packVdvae } from '../../../src/core/generate/packers/vdvaePack.ts';
import { COMPOSITE_FORMAT } from '../../../src/core/generate/packOpen.ts';
import { writeAtomically } from '../../../src/node/atomic.ts';
import { ensureReconBundle, RECON_BUNDLE } from './reconBundle.ts';

export const COMPOSITE_DIR = '.cache/test-bundles/composite';
export const COMPOSITE_NAME = 'demo pack + VDVAE (reduced) + CLIP (reduced)';
/** 8 layers at 1x1 and one at 4x4, zdim 16: 8·16 + 256 = 384 decoded values (the demo's blurry head). */
export const VDVAE_SMALL: VdvaeConfig = { name: 'VDVAE (reduced)', decBlocks: '1x8,4m1,4x1,8m4,8x1', encBlocks: '8x1,8d2,4x1,4d4,1x1', width: 16, zdim: 16, bottleneckMultiple: 0.25, numMixtures: 3, imageSize: 8, decodedLayers: 9 };
/** 56 px in patches of 14: 16 patches + class token = 17 tokens of width 32 (the demo's retrieval head). */
export const CLIP_SMALL: ClipVisionConfig = { name: 'ViT (reduced)', imageSize: 56, patchSize: 14, width: 32, layers: 2, heads: 4, mlp: 128, projectionDim: 16, layerNormEps: 1e-5 };

/** A checkpoint in memory with the given tensors, uniform values in ±0.05 (seeded). */
function randomCheckpoint(label: string, shapes: Map<string, number[]>, seed: number): Checkpoint {
  const tensors = new Map([...shapes].map(([name, shape]) => [name, { name, shape, dtype: 'F32', file: `${label}.safetensors` }]));
  return {
    label,
    files: [`${label}.safetensors`],
    tensors,
    async read(name) {
      const shape = shapes.get(name)!;
      const u = mulberry32(seed + [...shapes.keys()].indexOf(name));
      return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (u() - 0.5) * 0.1);
    },
  };
}

const under = (sink: ShardSink, prefix: string): ShardSink => ({ write: (p, b) => sink.write(`${prefix}${p}`, b) });

/** Builds the composite (and the reconstruction bundle it builds on) when missing. */
export async function ensureCompositePack(): Promise<void> {
  await ensureReconBundle();
  if (existsSync(join(COMPOSITE_DIR, 'modelpack', 'modelpack.json'))) return;
  await writeAtomically(COMPOSITE_DIR, async (sink) => {
    // small weight files, so every stage has several external-data files (as the real packs do)
    await packVdvae(randomCheckpoint('vdvae-reduced', new Map([...vdvaeDecoderShapes(VDVAE_SMALL), ...vdvaeEncoderShapes(VDVAE_SMALL)]), 11), under(sink, 'vdvae/'), { config: VDVAE_SMALL, maxFileBytes: 16384, createdAt: 'test' });
    await packClip(randomCheckpoint('clip-reduced', clipVisionShapes(CLIP_SMALL), 23), under(sink, 'clip/'), { config: CLIP_SMALL, precision: 'both', maxFileBytes: 98304, createdAt: 'test' });
    const base = `../../${RECON_BUNDLE.split('/').pop()}/modelpack/`;
    const manifest = { format: COMPOSITE_FORMAT, version: 1, name: COMPOSITE_NAME, base, stages: { lowLevelDecoder: '../vdvae/', imageEncoder: '../clip/' } };
    await sink.write('modelpack/modelpack.json', new TextEncoder().encode(JSON.stringify(manifest, null, 1)));
  });
}
