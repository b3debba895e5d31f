// The clip-text-tiny fixture's config (test/fixtures/packs/README.md): ViT-bigG/14's text layout at
// width 32, 3 layers, 8 positions, a 50-token vocabulary whose last two ids play start and end.
import { join } from 'node:path';
import { CLIP_TEXT_BIGG, type ClipTextConfig } from '../../../src/core/generate/packers/cascade/clipText.ts';

export const CLIP_TEXT_DIR = join(import.meta.dirname, '../../fixtures/packs/clip-text-tiny');
export const CLIP_TEXT_TINY: ClipTextConfig = { ...CLIP_TEXT_BIGG, name: 'tiny text', vocab: 50, positions: 8, width: 32, layers: 3, heads: 4, mlp: 128, projectionDim: 16, bos: 48, eos: 49, pad: 49 };
