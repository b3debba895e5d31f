// Stable Cascade's unconditional CLIP text tensors (issue 15): the text tower built from a checkpoint
// with the official HF key names (clip.ts's block with a causal + padding mask and exact GELU), run
// in onnxruntime on the empty caption, against openai/CLIP's Transformer run outside the project on
// the same random reduced checkpoint (test/fixtures/packs/README.md, clip-text-tiny).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BundleError } from '../../../src/core/base/errors.ts';
import { bytesSource } from '../../../src/core/formats/byteSource.ts';
import {
  checkClipTextCheckpoint,
  CLIP_TEXT_BIGG,
  clipTextParamCount,
  clipTextShapes,
  emptyCaptionTokens,
  encodeEmptyCaption,
  textAttentionMask,
} from '../../../src/core/generate/packers/cascade/clipText.ts';
import { openCheckpoint, type CheckpointFolder } from '../../../src/core/generate/packers/checkpoint.ts';
import { readNpy } from '../../../src/core/tensor/npy.ts';
import { CLIP_TEXT_DIR, CLIP_TEXT_TINY } from './cascadeClipTextFixture.ts';
import { maxAbsDiff, shapesOnly } from './cascadeEFixtures.ts';

const DIR = CLIP_TEXT_DIR;

function memFolder(files: Record<string, Uint8Array>, label = 'clip-text-tiny'): CheckpointFolder {
  return { label, open: async (p) => (files[p] ? bytesSource(files[p], `${label}/${p}`) : null) };
}
const fixture = async (name: string) => new Uint8Array(await readFile(join(DIR, name)));
async function tinyCheckpoint(extra: Record<string, Uint8Array> = {}) {
  return openCheckpoint(memFolder({ 'model.safetensors': await fixture('model.safetensors'), 'config.json': await fixture('config.json'), ...extra }));
}

describe('CLIP text tower on the empty caption vs the reference (reduced config)', () => {
  it('clip_text (hidden_states[-1]) and clip_text_pooled (text_embeds) equal openai/CLIP with GELU to 2e-5, in one graph or a chain of graphs', async () => {
    const ck = await tinyCheckpoint();
    const refText = readNpy(await fixture('ref_clip_text.npy'), 'ref_clip_text.npy');
    const refPooled = readNpy(await fixture('ref_clip_text_pooled.npy'), 'ref_clip_text_pooled.npy');
    expect(refText.shape).toEqual([8, 32]);
    expect(refPooled.shape).toEqual([1, 16]);
    for (const layersPerGraph of [1, 2, 3]) {
      const r = await encodeEmptyCaption(ck, CLIP_TEXT_TINY, { layersPerGraph });
      expect(maxAbsDiff(r.clipText, refText.data as Float32Array)).toBeLessThan(2e-5);
      expect(maxAbsDiff(r.clipTextPooled, refPooled.data as Float32Array)).toBeLessThan(2e-5);
    }
  });

  it('padding keys are masked: another padding id changes only the padding rows, not rows 0-1 nor the pooled vector', async () => {
    const ck = await tinyCheckpoint();
    const a = await encodeEmptyCaption(ck, CLIP_TEXT_TINY);
    const b = await encodeEmptyCaption(ck, { ...CLIP_TEXT_TINY, pad: 7 });
    const W = CLIP_TEXT_TINY.width;
    expect(maxAbsDiff(a.clipText.subarray(0, 2 * W), b.clipText.subarray(0, 2 * W))).toBe(0);
    expect(maxAbsDiff(a.clipTextPooled, b.clipTextPooled)).toBe(0);
    for (let row = 2; row < CLIP_TEXT_TINY.positions; row++) expect(maxAbsDiff(a.clipText.subarray(row * W, (row + 1) * W), b.clipText.subarray(row * W, (row + 1) * W))).toBeGreaterThan(1e-3);
  });

  it('the empty caption is [start, end, pad...] with only the first two positions attended; the mask is causal', () => {
    const { ids, mask, eosIndex } = emptyCaptionTokens(CLIP_TEXT_BIGG);
    expect(ids.length).toBe(77);
    expect(ids.slice(0, 3)).toEqual([49406, 49407, 49407]);
    expect(mask.reduce((a, b) => a + b, 0)).toBe(2);
    expect(eosIndex).toBe(1);
    const m = textAttentionMask([1, 1, 0]);
    // Query 0 sees key 0; query 1 keys 0-1; query 2 (padding) keys 0-1, not itself.
    expect(Array.from(m).map((v) => (v === 0 ? 1 : 0))).toEqual([1, 0, 0, 1, 1, 0, 1, 1, 0]);
  });
});

describe('ViT-bigG/14 text tower from its config', () => {
  it('has 694,659,840 parameters with the projection (OpenCLIP ViT-bigG-14 text tower: ~694.7M)', () => {
    const n = clipTextParamCount(CLIP_TEXT_BIGG);
    expect(n.projection).toBe(1280 * 1280);
    // 49408·1280 token + 77·1280 position + 32 layers of 19,677,440 + final LayerNorm 2,560.
    expect(n.text).toBe(63_242_240 + 98_560 + 32 * 19_677_440 + 2_560);
    expect(n.total).toBe(694_659_840);
    expect(Math.abs(n.total / 1e6 - 694.7)).toBeLessThan(0.05);
  });
});

describe('bad input names the file and the tensor', () => {

  it('a ViT-L/14 text encoder (width 768) given for bigG', async () => {
    // ViT-L/14's text tower as its shapes show it (a 4-row token table and 1-value q_proj stand-ins
    // keep the file small: the width, depth and projection are what the check reads first).
    const layers: [string, number[]][] = Array.from({ length: 12 }, (_, i) => [`text_model.encoder.layers.${i}.self_attn.q_proj.weight`, [1]]);
    const ck = shapesOnly(
      new Map([['text_model.embeddings.token_embedding.weight', [4, 768]], ['text_model.embeddings.position_embedding.weight', [77, 768]], ...layers, ['text_projection.weight', [768, 768]]]),
    );
    const err = (() => {
      try {
        checkClipTextCheckpoint(ck, CLIP_TEXT_BIGG);
      } catch (e) {
        return e as BundleError;
      }
      throw new Error('no error');
    })();
    expect(err).toBeInstanceOf(BundleError);
    expect(err.message).toMatch(/model\.safetensors/);
    expect(err.message).toMatch(/text_model\.embeddings\.token_embedding\.weight/);
    expect(err.message).toMatch(/CLIP ViT-L\/14 text \(width 768, 12 layers/);
    expect(err.message).toMatch(/expected.*ViT-bigG\/14 text \(width 1280, 32 layers/);
  });

  it('a missing layer tensor, a vision checkpoint, and a config.json with quick_gelu', async () => {
    const shapes = clipTextShapes(CLIP_TEXT_TINY);
    shapes.delete('text_model.encoder.layers.2.mlp.fc2.bias');
    await expect(encodeEmptyCaption(shapesOnly(shapes), CLIP_TEXT_TINY)).rejects.toThrow(/model\.safetensors.*text_model\.encoder\.layers\.2\.mlp\.fc2\.bias: missing tensor/s);
    const vision = shapesOnly(new Map([['vision_model.embeddings.class_embedding', [32]]]));
    expect(() => checkClipTextCheckpoint(vision, CLIP_TEXT_TINY)).toThrow(/no CLIP text tower \(this is a CLIP vision model/);
    const cfg = JSON.parse(new TextDecoder().decode(await fixture('config.json'))) as Record<string, unknown>;
    const quick = await tinyCheckpoint({ 'config.json': new TextEncoder().encode(JSON.stringify({ ...cfg, hidden_act: 'quick_gelu' })) });
    expect(() => checkClipTextCheckpoint(quick, CLIP_TEXT_TINY)).toThrow(/config\.json.*hidden_act quick_gelu.*expected.*gelu/s);
  });
});
