// `mirage pack stable-cascade` (packStableCascade): the official files of a variant -> one stage
// pack; stage C cut into parts under the part limit, written part by part, read back and run as a
// chain by run-stage equals the reference; float16 variant chained the same way; the
// unconditional constants say they were not computed; bad folders and files are named.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPackStableCascade } from '../../../src/node/packRun.ts';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/core/bundle/memoryStore.ts';
import { bytesSource } from '../../../src/core/formats/byteSource.ts';
import type { CheckpointFolder } from '../../../src/core/generate/packers/checkpoint.ts';
import { packStableCascade, type CascadePackOptions } from '../../../src/core/generate/packers/cascade/packStableCascade.ts';
import { stageBParamCount } from '../../../src/core/generate/packers/cascade/stageB.ts';
import { stageCParamCount } from '../../../src/core/generate/packers/cascade/stageC.ts';
import { runStage } from '../../../src/core/generate/packers/runStage.ts';
import { loadPackStage } from '../../../src/core/generate/packers/stagePack.ts';
import { readNpy } from '../../../src/core/tensor/npy.ts';
import { DIR, npy, TINY_C } from './cascadeCFixture.ts';
import { maxAbsDiff, TINY_A, TINY_B, TINY_EFFNET } from './cascadeEFixtures.ts';

const read = async (dir: string, f: string) => new Uint8Array(await readFile(join(DIR, '..', dir, f)));

async function officialFolder(over: Record<string, Uint8Array | null> = {}): Promise<CheckpointFolder> {
  const files: Record<string, Uint8Array | null> = {
    'stage_c_lite_bf16.safetensors': await read('cascade-c-tiny', 'stage_c.safetensors'),
    'stage_a.safetensors': await read('cascade-a-tiny', 'stage_a.safetensors'),
    'stage_b_lite.safetensors': await read('cascade-b-tiny', 'stage_b.safetensors'),
    'effnet_encoder.safetensors': await read('cascade-effnet-tiny', 'effnet_encoder.safetensors'),
    ...over,
  };
  return { label: 'checkpoints', open: async (p) => (files[p] ? bytesSource(files[p] as Uint8Array, `checkpoints/${p}`) : null) };
}
const opts = (o: Partial<CascadePackOptions> = {}): CascadePackOptions => ({ variant: 'lite', configs: { stageC: TINY_C, stageB: TINY_B, stageA: TINY_A, effnet: TINY_EFFNET }, createdAt: 'fixed', ...o });
const stageCRoles = async () => Object.fromEntries(await Promise.all(['x', 'clip_text', 'clip_text_pooled', 'clip_img'].map(async (k) => [k, await npy(`${k}.npy`)] as const).concat([(async () => ['r', await npy('r_small.npy')] as const)()])));

describe('packStableCascade', () => {
  it('writes the three stages; stage C in parts that run as a chain and equal the reference, float32 and float16', async () => {
    const store = new MemoryStore('pack');
    const maxPartBytes = stageCParamCount(TINY_C); // 4 bytes a weight: about 4 parts
    const m = await packStableCascade(await officialFolder(), store, opts({ precision: 'both', maxPartBytes, maxFileBytes: 64 * 1024 }));
    expect(Object.keys(m.stages).sort()).toEqual(['latentDecoder', 'latentEncoder', 'pixelDecoder', 'priorDenoiser']);
    expect(m.stages.latentDecoder?.parts?.length).toBeGreaterThanOrEqual(2);
    expect(m.stages.latentDecoder?.settings.parameters).toBeGreaterThanOrEqual(stageBParamCount(TINY_B));
    const c = m.stages.priorDenoiser;
    expect(c?.parts?.length).toBeGreaterThanOrEqual(4);
    // The limit is in bytes: half-precision parts hold twice the weights, so fewer of them.
    expect(c?.variants?.float16.parts?.length).toBeGreaterThanOrEqual(2);
    expect(c?.variants?.float16.parts?.length).toBeLessThan(c?.parts?.length as number);
    expect(c?.settings.parameters).toBe(stageCParamCount(TINY_C));
    for (const f of m.files) if (f.path.endsWith('.bin')) expect(f.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(m.unconditional?.computed).toBe(false);
    expect(m.unconditional?.source).toMatch(/^not computed: zeros/);
    const text = readNpy(await store.read(m.unconditional?.clipText as string), 'clip_text');
    expect(text.shape).toEqual([77, 1280]);
    expect(m.provenance.notes).toMatch(/unconditional text: not computed/);

    const ref = (await npy('ref_pred_r_small.npy')).data as Float32Array;
    const stage = await loadPackStage(store, 'priorDenoiser');
    expect(stage.parts?.length).toBe(c?.parts?.length);
    const r32 = await runStage(stage, await stageCRoles());
    expect(maxAbsDiff(r32.outputs.pred.data as Float32Array, ref)).toBeLessThan(3e-5);
    const half = await loadPackStage(store, 'priorDenoiser', { variant: 'float16' });
    expect(half.parts?.length).toBe(c?.variants?.float16.parts?.length);
    const r16 = await runStage(half, await stageCRoles());
    const top = Math.max(...Array.from(ref, Math.abs));
    expect(maxAbsDiff(r16.outputs.pred.data as Float32Array, ref) / top).toBeLessThan(1e-2);
  });

  it('a folder without the variant\'s files names each missing stage and its file names', async () => {
    const folder = await officialFolder({ 'stage_c_lite_bf16.safetensors': null, 'stage_a.safetensors': null, 'stage_c.safetensors': await read('cascade-c-tiny', 'stage_c.safetensors') });
    await expect(packStableCascade(folder, new MemoryStore(), opts())).rejects.toThrow(
      /checkpoints: --checkpoints: missing for --variant lite: priorDenoiser \(stage_c_lite\.safetensors or stage_c_lite_bf16\.safetensors\), pixelDecoder \(stage_a\.safetensors\)/,
    );
  });

  it('a stage B file under a stage C name is named as stage B; the lite checkpoint for --variant full is named as such', async () => {
    const b = await officialFolder({ 'stage_c_lite_bf16.safetensors': await read('cascade-b-tiny', 'stage_b.safetensors') });
    await expect(packStableCascade(b, new MemoryStore(), opts())).rejects.toThrow(/stage_c_lite_bf16\.safetensors: tensor clip_txt_mapper\.weight: this is a stage B file/);
    const full = await officialFolder({ 'stage_c_bf16.safetensors': await read('cascade-c-tiny', 'stage_c.safetensors'), 'stage_b.safetensors': await read('cascade-b-tiny', 'stage_b.safetensors') });
    await expect(packStableCascade(full, new MemoryStore(), opts({ variant: 'full', configs: { stageA: TINY_A, effnet: TINY_EFFNET, stageB: TINY_B } }))).rejects.toThrow(
      /tensor embedding\.1\.weight: the checkpoint is another stage C \(width 24, down blocks \[2, 2\]\) \(expected Stable Cascade stage C \(3\.6B\) \(width 2048, down blocks \[8, 24\]\)\)/,
    );
  });

  it('a truncated header and data cut short are named with the file (and the first tensor past the end)', async () => {
    const whole = await read('cascade-c-tiny', 'stage_c.safetensors');
    const head = await officialFolder({ 'stage_c_lite_bf16.safetensors': whole.slice(0, 200) });
    await expect(packStableCascade(head, new MemoryStore(), opts())).rejects.toThrow(/stage_c_lite_bf16\.safetensors/);
    const cut = await officialFolder({ 'stage_c_lite_bf16.safetensors': whole.slice(0, whole.length >> 1) });
    await expect(packStableCascade(cut, new MemoryStore(), opts())).rejects.toThrow(/stage_c_lite_bf16\.safetensors.*tensor [a-z_]+\.[\w.]+/);
  });
});

describe('mirage pack stable-cascade (command line)', () => {
  it('checks its flags and folder, names what the variant lacks, and leaves no pack behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pack-cascade-'));
    try {
      const base = { checkpoints: dir, variant: 'full', out: join(dir, 'p'), maxFileMib: '128', maxPartMib: '1024', precision: 'both', quiet: true };
      await expect(runPackStableCascade({ ...base, variant: 'medium' })).rejects.toThrow(/--variant medium \(expected lite \(stage C 1B\) or full/);
      await expect(runPackStableCascade({ ...base, maxPartMib: '5000' })).rejects.toThrow(/--max-part-mib 5000/);
      await expect(runPackStableCascade({ ...base, checkpoints: join(dir, 'nope') })).rejects.toThrow(/nope: --checkpoints: not a folder/);
      await writeFile(join(dir, 'stage_a.safetensors'), await read('cascade-a-tiny', 'stage_a.safetensors'));
      await expect(runPackStableCascade(base)).rejects.toThrow(/missing for --variant full: latentEncoder \(effnet_encoder\.safetensors\), priorDenoiser \(stage_c\.safetensors or stage_c_bf16\.safetensors\), latentDecoder \(stage_b\.safetensors or stage_b_bf16\.safetensors\) \(expected/);
      await expect(readFile(join(dir, 'p', 'modelpack.json'))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
