// The unconditional CLIP text constants end to end: `mirage pack stable-cascade --clip-text` checks
// the text encoder (a wrong one named by file and tensor before any stage is built), the computed
// constants carry their source file and sha256, and the flag a stage pack writes reaches what the
// Reconstruction screen shows (openModelPack's unconditionalOrigin -> PackPanel's line).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPackStableCascade } from '../../../src/node/packRun.ts';
import { unconditionalLabel } from '../../../src/app/reconstruct/PackPanel.tsx';
import { bytesSource } from '../../../src/core/formats/byteSource.ts';
import { unconditionalFromClipText } from '../../../src/core/generate/packers/cascade/clipText.ts';
import { openCheckpoint } from '../../../src/core/generate/packers/checkpoint.ts';
import { packStableCascade } from '../../../src/core/generate/packers/cascade/packStableCascade.ts';
import { MemoryStore } from '../../../src/core/bundle/memoryStore.ts';
import { fsTree } from '../../../src/node/files.ts';
import { unconditionalOrigin } from '../../../src/core/generate/packOpen.ts';
import { readNpy } from '../../../src/core/tensor/npy.ts';
import { CLIP_TEXT_DIR as TEXT, CLIP_TEXT_TINY } from './cascadeClipTextFixture.ts';
import { TINY_C } from './cascadeCFixture.ts';
import { maxAbsDiff, TINY_A, TINY_B, TINY_EFFNET } from './cascadeEFixtures.ts';

const FIX = join(import.meta.dirname, '../../fixtures/packs');

describe('unconditional constants from a CLIP text encoder', () => {
  it('are the empty caption encodings with the source file and its sha256', async () => {
    const bytes = new Uint8Array(await readFile(join(TEXT, 'model.safetensors')));
    const ck = await openCheckpoint({ label: 'text_encoder', open: async (p) => (p === 'model.safetensors' ? bytesSource(bytes, `text_encoder/${p}`) : null) });
    const u = await unconditionalFromClipText(ck, CLIP_TEXT_TINY, { 'text_encoder/model.safetensors': 'ab'.repeat(32) });
    const ref = readNpy(new Uint8Array(await readFile(join(TEXT, 'ref_clip_text_pooled.npy'))), 'ref');
    expect(maxAbsDiff(u.clipTextPooled, ref.data as Float32Array)).toBeLessThan(2e-5);
    expect(u.source).toMatch(/^computed: CLIP tiny text encoder on the empty caption \(hidden_states\[-1\].*text_encoder\/model\.safetensors \(sha256 (ab){32}\)$/);
  });

  it('mirage pack stable-cascade --clip-text: a text encoder other than ViT-bigG/14 is named by file and tensor, a folder without weights by the flag; the right one gives computed constants', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mirage-cliptext-'));
    try {
      // The stage files are only opened before the text encoder is checked, so copies of the tiny fixtures do.
      const stages: [string, string][] = [
        ['cascade-c-tiny/stage_c.safetensors', 'stage_c_lite_bf16.safetensors'],
        ['cascade-a-tiny/stage_a.safetensors', 'stage_a.safetensors'],
        ['cascade-b-tiny/stage_b.safetensors', 'stage_b_lite.safetensors'],
        ['cascade-effnet-tiny/effnet_encoder.safetensors', 'effnet_encoder.safetensors'],
      ];
      for (const [from, to] of stages) await writeFile(join(dir, to), await readFile(join(FIX, from)));
      const base = { checkpoints: dir, variant: 'lite', out: join(dir, 'out'), maxFileMib: '128', maxPartMib: '1024', precision: 'float32', quiet: true };
      await expect(runPackStableCascade({ ...base, clipText: TEXT })).rejects.toThrow(
        /clip-text-tiny\/model\.safetensors: tensor text_model\.embeddings\.token_embedding\.weight: the checkpoint is another text model \(width 32, 3 layers, 8 positions, projection 16\).*expected.*ViT-bigG\/14 text \(width 1280, 32 layers, 77 positions, projection 1280\)/s,
      );
      await expect(runPackStableCascade({ ...base, clipText: join(dir, 'nothing') })).rejects.toThrow(/nothing.*--clip-text.*no model\.safetensors/s);

      // The same folder packed with the reduced configs: the constants are the text tower's, marked computed.
      const store = new MemoryStore('pack');
      const checkpoint = await openCheckpoint(fsTree(TEXT));
      const configs = { stageC: TINY_C, stageB: TINY_B, stageA: TINY_A, effnet: TINY_EFFNET, clipText: CLIP_TEXT_TINY };
      const m = await packStableCascade(fsTree(dir), store, { variant: 'lite', precision: 'float32', configs, clipText: { checkpoint, sha256: { [checkpoint.files[0]]: 'cd'.repeat(32) } }, createdAt: 'fixed' });
      expect(m.unconditional?.computed).toBe(true);
      expect(m.unconditional?.source).toMatch(/^computed: CLIP tiny text encoder .*clip-text-tiny\/model\.safetensors \(sha256 (cd){32}\)$/);
      expect(m.provenance.notes).toMatch(/unconditional text: computed: CLIP tiny text/);
      const text = readNpy(await store.read(m.unconditional?.clipText as string), 'clip_text');
      const pooled = readNpy(await store.read(m.unconditional?.clipTextPooled as string), 'clip_text_pooled');
      expect(text.shape).toEqual([8, 32]);
      expect(pooled.shape).toEqual([1, 16]);
      expect(maxAbsDiff(text.data as Float32Array, readNpy(new Uint8Array(await readFile(join(TEXT, 'ref_clip_text.npy'))), 'ref').data as Float32Array)).toBeLessThan(2e-5);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the page says when the unconditional tensors were not computed', () => {
  it('a stage pack without --clip-text: computed false, shown as zeros; computed: its source; a model pack: its own constants', () => {
    const paths = { clipImg: 'a.npy', clipText: 'b.npy', clipTextPooled: 'c.npy' };
    const zeros = unconditionalOrigin('Stable Cascade lite', { ...paths, computed: false, source: 'not computed: zeros (no CLIP ViT-bigG/14 text encoder was given: --clip-text)' });
    expect(zeros).toEqual({ pack: 'Stable Cascade lite', computed: false, source: expect.stringMatching(/^not computed/) as unknown as string });
    expect(unconditionalLabel(zeros)).toBe('unconditional CLIP tensors: not computed (zeros) — pack Stable Cascade lite');
    const real = unconditionalOrigin('Stable Cascade lite', { ...paths, computed: true, source: 'computed: CLIP ViT-bigG/14 text encoder on the empty caption' });
    expect(unconditionalLabel(real)).toBe('unconditional CLIP tensors: computed: CLIP ViT-bigG/14 text encoder on the empty caption');
    const own = unconditionalOrigin('demo', paths);
    expect(own.computed).toBeNull();
    expect(unconditionalLabel(own)).toBe('unconditional CLIP tensors: the constants of model pack demo');
    expect(unconditionalLabel(null)).toMatch(/not recorded/);
  });
});
