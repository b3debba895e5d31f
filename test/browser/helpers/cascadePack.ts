// A reduced Stable Cascade pack for the browser specs (cascade-pack.spec.ts), built by the real packer
// (`packStableCascade`, what `mirage pack stable-cascade --variant lite` runs) from official-named
// checkpoint files, and a composite pack that puts its four stages (latentEncoder = EfficientNet,
// priorDenoiser = stage C, latentDecoder = stage B, pixelDecoder = stage A) on top of the demo pack
// of the reconstruction bundle (helpers/reconBundle.ts). Why a composite: the cascade pack is a stage
// pack (no low-level decoder, image encoder or captioner) and the bundle's decoded heads have the
// demo's shapes, so stage C's conditioning is sized to them (16 text tokens of 32, clip_img 128);
// everything else is Stable Cascade's structure at reduced width and depth.
// Weights: stage A, stage B and the EfficientNet are the committed fixtures (test/fixtures/packs/
// cascade-{a,b,effnet}-tiny, checked against the public reference in test/unit/packs/); stage C is
// random under the official key names (the committed stage C fixture's CLIP widths are not the
// demo's). Stages C and B are cut into parts (stageChain.ts), so the chain runs in the page.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mulberry32 } from '../../../src/core/base/rng.ts';
import { bytesSource } from '../../../src/core/formats/byteSource.ts';
import { encodeSafetensors } from '../../../src/core/formats/safetensors.ts';
import type { ShardSink } from '../../../src/core/bundle/writer.ts';
import { CLIP_TEXT_BIGG } from '../../../src/core/generate/packers/cascade/clipText.ts';
import { packStableCascade } from '../../../src/core/generate/packers/cascade/packStableCascade.ts';
import { stageBParamCount } from '../../../src/core/generate/packers/cascade/stageB.ts';
import { STAGE_C_LITE, stageCParamCount, stageCShapes, type StageCConfig } from '../../../src/core/generate/packers/cascade/stageC.ts';
import type { CheckpointFolder } from '../../../src/core/generate/packers/checkpoint.ts';
import { COMPOSITE_FORMAT } from '../../../src/core/generate/packOpen.ts';
import { writeAtomically } from '../../../src/node/atomic.ts';
import { TINY_A, TINY_B, TINY_EFFNET } from '../../unit/packs/cascadeEFixtures.ts';
import { ensureReconBundle, RECON_BUNDLE } from './reconBundle.ts';

export const CASCADE_DIR = '.cache/test-bundles/cascade';
export const CASCADE_COMPOSITE_NAME = 'demo pack + Stable Cascade lite (reduced)';
/** The label the packer puts into the stage pack's name: "Stable Cascade lite (<label>)". */
export const CASCADE_LABEL = 'cascade-reduced';

/** Stage C sized to the demo's heads: text [16, 32], image [128]; pooled text 12 wide as the stage B fixture's clip. */
export const C_DEMO: StageCConfig = {
  ...STAGE_C_LITE,
  name: 'stage C (reduced to the demo heads)',
  cCond: 16,
  cHidden: [24, 32],
  nhead: [4, 4],
  blocks: [
    [1, 1],
    [1, 1],
  ],
  cClipText: 32,
  textTokens: 16,
  cClipTextPooled: 12,
  cClipImg: 128,
  latentSize: 8,
};
/** Stage B with the stage B fixture's weights, its latent 16x16 (stage A decodes it to 64 px) and stage C's 8x8 latent as effnet. */
export const B_DEMO = { ...TINY_B, latentSize: 16, effnetSize: 8 };
/** Stage A with the fixture's weights, declared for stage B's 16x16 latent. */
export const A_DEMO = { ...TINY_A, latentSize: 16 };
/** The unconditional text the packer writes (zeros, "not computed"): 16 tokens of 32 and a 12-wide pooled row. */
const CLIP_TEXT_DEMO = { ...CLIP_TEXT_BIGG, positions: 16, width: 32, projectionDim: 12 };

const FIXTURES = join(import.meta.dirname, '../../fixtures/packs');

/** Stage C weights: normal-ish (uniform, std 1/sqrt(fan-in)), 1-D tensors std 0.1, seeded. */
function randomStageC(cfg: StageCConfig, seed: number): Uint8Array {
  const tensors = [...stageCShapes(cfg)].map(([name, shape], i) => {
    const u = mulberry32(seed + i);
    const fanIn = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : 100;
    const scale = Math.sqrt(3 / fanIn);
    return { name, dtype: 'F32' as const, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (2 * u() - 1) * scale) };
  });
  return encodeSafetensors(tensors);
}

/** The official lite file names over the fixtures and the random stage C. */
async function liteFolder(): Promise<CheckpointFolder> {
  const files: Record<string, Uint8Array> = {
    'stage_c_lite.safetensors': randomStageC(C_DEMO, 31),
    'stage_b_lite.safetensors': new Uint8Array(await readFile(join(FIXTURES, 'cascade-b-tiny/stage_b.safetensors'))),
    'stage_a.safetensors': new Uint8Array(await readFile(join(FIXTURES, 'cascade-a-tiny/stage_a.safetensors'))),
    'effnet_encoder.safetensors': new Uint8Array(await readFile(join(FIXTURES, 'cascade-effnet-tiny/effnet_encoder.safetensors'))),
  };
  return { label: CASCADE_LABEL, open: async (p) => (files[p] ? bytesSource(files[p], `${CASCADE_LABEL}/${p}`) : null) };
}

const under = (sink: ShardSink, prefix: string): ShardSink => ({ write: (p, b) => sink.write(`${prefix}${p}`, b) });

/** Builds the cascade stage pack (cascade/) and the composite (modelpack/) when missing. */
export async function ensureCascadePack(): Promise<void> {
  await ensureReconBundle();
  if (existsSync(join(CASCADE_DIR, 'modelpack', 'modelpack.json'))) return;
  await writeAtomically(CASCADE_DIR, async (sink) => {
    await packStableCascade(await liteFolder(), under(sink, 'cascade/'), {
      variant: 'lite',
      precision: 'float32',
      configs: { stageC: C_DEMO, stageB: B_DEMO, stageA: A_DEMO, effnet: TINY_EFFNET, clipText: CLIP_TEXT_DEMO },
      // about three parts of stage C and two of stage B; small weight files, as the real packs have several
      maxPartBytes: Math.ceil((4 * stageCParamCount(C_DEMO)) / 3),
      maxFileBytes: 64 * 1024,
      command: 'test/browser/helpers/cascadePack.ts',
      createdAt: 'test',
    });
    const base = `../../${RECON_BUNDLE.split('/').pop()}/modelpack/`;
    const stages = { latentEncoder: '../cascade/', priorDenoiser: '../cascade/', latentDecoder: '../cascade/', pixelDecoder: '../cascade/' };
    const manifest = { format: COMPOSITE_FORMAT, version: 1, name: CASCADE_COMPOSITE_NAME, base, stages };
    await sink.write('modelpack/modelpack.json', new TextEncoder().encode(JSON.stringify(manifest, null, 1)));
  });
}

/** Parameters of the reduced stages B and C (the spec checks the pack records them). */
export const REDUCED_PARAMS = { stageC: stageCParamCount(C_DEMO), stageB: stageBParamCount(B_DEMO) };
