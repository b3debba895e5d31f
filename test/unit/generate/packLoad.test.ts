// openModelPack (src/core/generate/packOpen.ts): a composite pack — the stand-in pack as base, its
// lowLevelDecoder replaced by a VDVAE stage pack and its imageEncoder by a CLIP stage pack (both
// built by the real packers from the reduced-size fixtures) — loads with the stage packs' external
// data, runs through PackSessions with the reference outputs, and loads one precision build per
// stage, reading only that build's files.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BundleError } from '../../../src/core/base/errors.ts';
import { MemoryStore } from '../../../src/core/bundle/memoryStore.ts';
import type { ReadOptions, ShardSource } from '../../../src/core/bundle/source.ts';
import { bytesSource } from '../../../src/core/formats/byteSource.ts';
import { loadModelPack, PACK_MANIFEST } from '../../../src/core/generate/modelPack.ts';
import { openCheckpoint } from '../../../src/core/generate/packers/checkpoint.ts';
import type { ClipVisionConfig } from '../../../src/core/generate/packers/clip.ts';
import { packClip } from '../../../src/core/generate/packers/clipPack.ts';
import { vdvaeLatentSizes, type VdvaeConfig } from '../../../src/core/generate/packers/vdvae.ts';
import { packVdvae } from '../../../src/core/generate/packers/vdvaePack.ts';
import { runStage } from '../../../src/core/generate/packers/runStage.ts';
import { loadPackStage, StagePackWriter } from '../../../src/core/generate/packers/stagePack.ts';
import { COMPOSITE_FORMAT, openModelPack, resolveFolderRef, type PackFileProgress, type PackResolver } from '../../../src/core/generate/packOpen.ts';
import { choosePrecision } from '../../../src/core/generate/precision.ts';
import { PackSessions } from '../../../src/core/generate/sessions.ts';
import { buildStandInPack } from '../../../src/core/generate/standInPack.ts';
import { readNpy, writeNpy, type NpyArray } from '../../../src/core/tensor/npy.ts';

const FIX = join(import.meta.dirname, '../../fixtures/packs');
const CLIP_TINY: ClipVisionConfig = { name: 'tiny', imageSize: 28, patchSize: 14, width: 32, layers: 2, heads: 4, mlp: 128, projectionDim: 16, layerNormEps: 1e-5 };
const VDVAE_TINY: VdvaeConfig = { name: 'tiny', decBlocks: '1x2,4m1,4x1,8m4,8x2', encBlocks: '8x1,8d2,4x1,4d4,1x1', width: 16, zdim: 4, bottleneckMultiple: 0.25, numMixtures: 3, imageSize: 8, decodedLayers: 4 };

const fixture = async (p: string) => new Uint8Array(await readFile(join(FIX, p)));
const npy = async (p: string) => readNpy(await fixture(p), p);

/** A source that records which files were read (to prove only the chosen build is loaded). */
class Recording implements ShardSource {
  readonly reads: string[] = [];
  constructor(private readonly inner: MemoryStore) {}
  get label() {
    return this.inner.label;
  }
  read(path: string, opts?: ReadOptions): Promise<Uint8Array> {
    this.reads.push(path);
    return this.inner.read(path, opts);
  }
}

let base: MemoryStore;
let mismatched: MemoryStore;
let vdvae: Recording;
let vdvaeName: string;
let clip: Recording;

function composite(stages: Record<string, string>, name = 'stand-in + tiny VDVAE + tiny CLIP'): MemoryStore {
  const root = new MemoryStore('packs/composite');
  root.files.set(PACK_MANIFEST, new TextEncoder().encode(JSON.stringify({ format: COMPOSITE_FORMAT, version: 1, name, base: '../stand-in/', stages })));
  return root;
}
const resolver: PackResolver = (ref) => {
  const by: Record<string, ShardSource> = { '../stand-in/': base, '../stand-in-real-heads/': mismatched, '../vdvae/': vdvae, '../clip/': clip };
  const s = by[ref];
  if (!s) throw new Error(`no pack at ${ref}`);
  return s;
};
const REPLACE = { lowLevelDecoder: '../vdvae/', imageEncoder: '../clip/' };

beforeAll(async () => {
  mismatched = new MemoryStore('packs/stand-in-real-heads');
  await buildStandInPack(mismatched, { seed: 3 });
  // The same stand-in with the head shapes of the reduced stage packs (the VDVAE's decoded latents, 5x32 CLIP tokens).
  base = new MemoryStore('packs/stand-in');
  for (const [k, v] of mismatched.files) base.files.set(k, v);
  const m = JSON.parse(new TextDecoder().decode(base.files.get(PACK_MANIFEST)));
  m.headShapes.blurry = [vdvaeLatentSizes(VDVAE_TINY).decoded];
  m.headShapes.retrieval = [5, 32];
  base.files.set(PACK_MANIFEST, new TextEncoder().encode(JSON.stringify(m)));

  const vStore = new MemoryStore('packs/vdvae');
  const th = await fixture('vdvae-tiny/model-ema.th');
  ({ name: vdvaeName } = await packVdvae(await openCheckpoint({ label: 'vdvae-tiny', open: async (p) => (p === 'model-ema.th' ? bytesSource(th, p) : null) }, { file: 'model-ema.th' }), vStore, { config: VDVAE_TINY, maxFileBytes: 5000, createdAt: 'fixed' }));
  vdvae = new Recording(vStore);
  const cStore = new MemoryStore('packs/clip');
  const st = await fixture('clip-tiny/model.safetensors');
  const ck = await openCheckpoint({ label: 'clip-tiny', open: async (p) => (p === 'model.safetensors' ? bytesSource(st, p) : null) });
  await packClip(ck, cStore, { config: CLIP_TINY, precision: 'both', maxFileBytes: 80000, createdAt: 'fixed' });
  clip = new Recording(cStore);
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('openModelPack: composite packs with external data', () => {
  it('takes the replaced stages from their stage packs (with every external-data file) and runs them as the stage packs do on their own (CLIP: to the reference outputs)', async () => {
    const progress: PackFileProgress[] = [];
    const pack = await openModelPack(composite(REPLACE), { resolve: resolver, onProgress: (p) => progress.push(p) });
    expect(pack.manifest.name).toBe('stand-in + tiny VDVAE + tiny CLIP');
    expect(pack.composite?.parts.map((p) => p.stage).sort()).toEqual(['imageEncoder', 'lowLevelDecoder']);
    expect(pack.origins?.lowLevelDecoder).toMatchObject({ pack: vdvaeName, kind: 'real', precision: 'float32' });
    expect(pack.origins?.latentDecoder.pack).toBe(pack.origins?.pixelDecoder.pack);
    expect(pack.origins?.latentDecoder.kind).toBe('stand-in');
    // the least real part names the whole: stand-in stages remain
    expect(pack.manifest.provenance.kind).toBe('stand-in');
    expect(pack.manifest.provenance.notes).toContain(`lowLevelDecoder from ${vdvaeName}`);
    const vdData = pack.externalData?.lowLevelDecoder ?? [];
    expect(vdData.length).toBeGreaterThan(1);
    expect(vdData.every((d) => !d.path.includes('/'))).toBe(true); // relative to the graph's folder

    // progress: per file and in total, monotonic, ending at the total, one file at a time
    const last = progress.at(-1)!;
    expect(last.loadedBytes).toBe(last.totalBytes);
    expect(progress.every((p, i) => i === 0 || p.loadedBytes >= progress[i - 1].loadedBytes)).toBe(true);
    expect(new Set(progress.map((p) => p.fileIndex)).size).toBe(last.fileCount);
    expect(progress.every((p) => p.fileLoadedBytes <= p.fileBytes)).toBe(true);

    const sessions = new PackSessions(pack);
    try {
      // The VDVAE stage's inputs (whatever roles its packer declares), values in (0.05, 0.95): the
      // composite's session must give what the stage pack gives on its own (runStage, checked
      // against the reference implementation by test/unit/packs/vdvae.test.ts).
      const spec = pack.manifest.stages.lowLevelDecoder;
      const feeds: Record<string, { data: Float32Array; bind: Record<string, number> }> = {};
      const arrays: Record<string, NpyArray> = {};
      for (const [role, ts] of Object.entries(spec.inputs)) {
        const shape = ts.shape.map((d) => (typeof d === 'number' ? d : 2));
        const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => 0.05 + 0.9 * ((i * 0.618034 + role.length * 0.1) % 1));
        feeds[role] = { data, bind: { batch: 2 } };
        arrays[role] = { data, shape, dtype: '<f4', fortranOrder: false };
      }
      const px = await sessions.run('lowLevelDecoder', feeds, ['px']);
      const alone = await runStage(await loadPackStage(vdvae, 'lowLevelDecoder'), arrays);
      expect(maxAbsDiff(px.px.data, alone.outputs.px.data as Float32Array)).toBe(0);
      const pix = await npy('clip-tiny/pixel_values.npy');
      const out = await sessions.run('imageEncoder', { pixel_values: { data: pix.data as Float32Array, bind: { batch: 2 } } }, ['last_hidden_state', 'image_embeds']);
      expect(maxAbsDiff(out.image_embeds.data, (await npy('clip-tiny/ref_image_embeds.npy')).data as Float32Array)).toBeLessThan(2e-5);
    } finally {
      await sessions.dispose();
    }
  });

  it('loads one precision build per stage: float16 on WebGPU with shader-f16, float32 otherwise or when set; only its files are read', async () => {
    clip.reads.length = 0;
    const f16 = await openModelPack(composite(REPLACE), { resolve: resolver, onWebgpu: () => true, shaderF16: true });
    expect(f16.origins?.imageEncoder).toMatchObject({ precision: 'float16', variant: 'float16', reason: 'WebGPU with shader-f16: half the bytes' });
    expect(f16.origins?.lowLevelDecoder).toMatchObject({ precision: 'float32', reason: 'the pack has no float16 build of this stage' });
    const weights = clip.reads.filter((p) => p !== PACK_MANIFEST);
    expect(weights.length).toBeGreaterThan(1);
    expect(weights.every((p) => p.includes('.f16'))).toBe(true);

    // the float16 graph (external data too) runs on wasm within float16 rounding of the reference
    // (forced: under 'auto' a stage on wasm is given its float32 build, next test)
    const forced16 = await openModelPack(composite(REPLACE), { resolve: resolver, onWebgpu: () => true, shaderF16: true, precision: 'float16' });
    const sessions = new PackSessions(forced16);
    try {
      const pix = await npy('clip-tiny/pixel_values.npy');
      const out = await sessions.run('imageEncoder', { pixel_values: { data: pix.data as Float32Array, bind: { batch: 2 } } }, ['image_embeds']);
      const ref = (await npy('clip-tiny/ref_image_embeds.npy')).data as Float32Array;
      const scale = ref.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
      expect(maxAbsDiff(out.image_embeds.data, ref) / scale).toBeLessThan(5e-3);
      expect(forced16.origins?.imageEncoder).toMatchObject({ precision: 'float16', reason: 'float16 chosen in the settings' });
    } finally {
      await sessions.dispose();
    }

    clip.reads.length = 0;
    const forced = await openModelPack(composite(REPLACE), { resolve: resolver, onWebgpu: () => true, shaderF16: true, precision: 'float32' });
    expect(forced.origins?.imageEncoder).toMatchObject({ precision: 'float32', reason: 'float32 chosen in the settings' });
    expect(clip.reads.some((p) => p.includes('.f16'))).toBe(false);
    const noF16 = await openModelPack(composite(REPLACE), { resolve: resolver, onWebgpu: () => true, shaderF16: false });
    expect(noF16.origins?.imageEncoder.reason).toBe('the WebGPU adapter lacks shader-f16');
    const wasm = await openModelPack(composite(REPLACE), { resolve: resolver, shaderF16: true });
    expect(wasm.origins?.imageEncoder.precision).toBe('float32');
  });

  it('a stage whose WebGPU session fails falls back to wasm with its float32 build (read then), and says so; a forced float16 stays', async () => {
    const pix = await npy('clip-tiny/pixel_values.npy');
    const ref = (await npy('clip-tiny/ref_image_embeds.npy')).data as Float32Array;
    const scale = ref.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    const embeds = async (sessions: PackSessions) => (await sessions.run('imageEncoder', { pixel_values: { data: pix.data as Float32Array, bind: { batch: 2 } } }, ['image_embeds'])).image_embeds.data;

    // Opened for WebGPU with shader-f16: the float16 build. Node's runtime has no WebGPU backend, so
    // the WebGPU session fails: an injected provider failure, as a kernel WebGPU rejects would be.
    clip.reads.length = 0;
    const pack = await openModelPack(composite(REPLACE), { resolve: resolver, onWebgpu: () => true, shaderF16: true });
    expect(pack.origins?.imageEncoder.precision).toBe('float16');
    expect(clip.reads.filter((p) => p !== PACK_MANIFEST).every((p) => p.includes('.f16'))).toBe(true);
    clip.reads.length = 0;
    const sessions = new PackSessions(pack, { executionProviders: ['webgpu'] });
    try {
      const out = await embeds(sessions);
      expect(sessions.fallbacks.has('imageEncoder')).toBe(true);
      expect(sessions.onGpu('imageEncoder')).toBe(false);
      // the float32 build was read then (and only it), and runs at float32 accuracy, not float16's
      const read = clip.reads.filter((p) => p !== PACK_MANIFEST);
      expect(read.length).toBeGreaterThan(1);
      expect(read.some((p) => p.includes('.f16'))).toBe(false);
      expect(maxAbsDiff(out, ref) / scale).toBeLessThan(1e-5);
      expect(pack.origins?.imageEncoder).toMatchObject({ precision: 'float32', variant: undefined, reason: 'fell back to wasm (WebGPU could not run this stage): float32 (no float16 arithmetic there)' });
      expect(pack.origins?.imageEncoder.bytes).toBe(pack.onnx.imageEncoder.byteLength + (pack.externalData?.imageEncoder ?? []).reduce((a, f) => a + f.data.byteLength, 0));
      // a stage that had no float16 build is left as it was
      expect(pack.origins?.lowLevelDecoder.reason).toBe('the pack has no float16 build of this stage');
    } finally {
      await sessions.dispose();
    }
    // The same pack on a wasm-only PackSessions (the service after a failed WebGPU warm-up) keeps
    // the float32 build it now has, reading nothing more.
    clip.reads.length = 0;
    const again = new PackSessions(pack);
    try {
      expect(maxAbsDiff(await embeds(again), ref) / scale).toBeLessThan(1e-5);
      expect(clip.reads).toEqual([]);
    } finally {
      await again.dispose();
    }

    // Opened for WebGPU, then every stage on wasm from the start (the service after a failed warm-up): float32 too.
    const onWasm = await openModelPack(composite(REPLACE), { resolve: resolver, onWebgpu: () => true, shaderF16: true });
    const wasmOnly = new PackSessions(onWasm);
    try {
      await wasmOnly.warm();
      expect(onWasm.origins?.imageEncoder).toMatchObject({ precision: 'float32', reason: 'fell back to wasm (opened for WebGPU, run on wasm): float32 (no float16 arithmetic there)' });
    } finally {
      await wasmOnly.dispose();
    }

    // float16 forced in the settings stays float16 after the fallback (the user asked for it).
    const forced = await openModelPack(composite(REPLACE), { resolve: resolver, onWebgpu: () => true, shaderF16: true, precision: 'float16' });
    const forcedSessions = new PackSessions(forced, { executionProviders: ['webgpu'] });
    try {
      expect(maxAbsDiff(await embeds(forcedSessions), ref) / scale).toBeLessThan(5e-3);
      expect(forcedSessions.fallbacks.has('imageEncoder')).toBe(true);
      expect(forced.origins?.imageEncoder).toMatchObject({ precision: 'float16', reason: 'float16 chosen in the settings' });
    } finally {
      await forcedSessions.dispose();
    }
  });

  it('a plain model pack opens as before: every stage from it, the same graphs loadModelPack reads', async () => {
    const pack = await openModelPack(mismatched);
    const old = await loadModelPack(mismatched);
    expect(pack.composite).toBeUndefined();
    expect(pack.manifest).toEqual(old.manifest);
    for (const s of Object.keys(old.onnx) as (keyof typeof old.onnx)[]) expect(Buffer.compare(pack.onnx[s], old.onnx[s])).toBe(0);
    expect(pack.vocab).toEqual(old.vocab);
    expect(pack.unconditional.clipText).toEqual(old.unconditional.clipText);
  });

  it('refuses a stage whose decoded-head size differs from the base pack, naming the stage and the head', async () => {
    const root = new MemoryStore('packs/composite');
    root.files.set(PACK_MANIFEST, new TextEncoder().encode(JSON.stringify({ format: COMPOSITE_FORMAT, version: 1, name: 'x', base: '../stand-in-real-heads/', stages: { lowLevelDecoder: '../vdvae/' } })));
    const err = await openModelPack(root, { resolve: resolver }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BundleError);
    expect((err as BundleError).field).toBe('stages.lowLevelDecoder');
    expect(String(err)).toMatch(/latents \[batch, 136\]: 136 values per row.*91168 values, the base pack's "blurry" head/s);
  });

  it("a caption decoder taken from another pack brings its own vocabulary (its settings.vocab)", async () => {
    const m = JSON.parse(new TextDecoder().decode(base.files.get(PACK_MANIFEST)));
    const store = new MemoryStore('packs/captioner');
    const w = new StagePackWriter(store);
    const file = await w.addFile('models/caption.onnx', base.files.get(m.stages.captionDecoder.file)!);
    const words = Array.from({ length: 40 }, (_, i) => `word${i}`);
    await w.addFile('vocab.json', new TextEncoder().encode(JSON.stringify(words)));
    await w.finish({ name: 'captioner', provenance: { kind: 'real', command: 'test', createdAt: 'fixed' }, stages: { captionDecoder: { ...m.stages.captionDecoder, file, settings: { ...m.stages.captionDecoder.settings, vocab: 'vocab.json' } } } });
    const resolve: PackResolver = (ref) => (ref === '../captioner/' ? store : resolver(ref));
    const pack = await openModelPack(composite({ captionDecoder: '../captioner/' }), { resolve });
    expect(pack.vocab).toEqual(words);
    expect(pack.origins?.captionDecoder.pack).toBe('captioner');
    const plain = await openModelPack(composite({ lowLevelDecoder: '../vdvae/' }), { resolve });
    expect(plain.vocab).not.toEqual(words); // the base pack's vocabulary otherwise
  });

  it("a prior denoiser taken from a stage pack with its own unconditional embeddings brings them", async () => {
    const m = JSON.parse(new TextDecoder().decode(base.files.get(PACK_MANIFEST)));
    const store = new MemoryStore('packs/prior');
    const w = new StagePackWriter(store);
    const file = await w.addFile('models/prior.onnx', base.files.get(m.stages.priorDenoiser.file)!);
    const text = Float32Array.from({ length: 77 * 1280 }, (_, i) => (i % 7) / 7);
    const paths = {
      clipImg: await w.addFile('cond/img.npy', writeNpy(new Float32Array(768), [1, 768], '<f4')),
      clipText: await w.addFile('cond/text.npy', writeNpy(text, [77, 1280], '<f4')),
      clipTextPooled: await w.addFile('cond/pooled.npy', writeNpy(new Float32Array(1280).fill(0.5), [1, 1280], '<f4')),
    };
    await w.finish({ name: 'prior', provenance: { kind: 'real', command: 'test', createdAt: 'fixed' }, stages: { priorDenoiser: { ...m.stages.priorDenoiser, file } }, unconditional: { ...paths, computed: true, source: 'test' } });
    const resolve: PackResolver = (ref) => (ref === '../prior/' ? store : resolver(ref));
    const pack = await openModelPack(composite({ priorDenoiser: '../prior/' }), { resolve });
    expect(pack.unconditional.clipText).toEqual(text);
    expect(pack.unconditional.clipTextPooled.every((v) => v === 0.5)).toBe(true);
  });

  it('refuses a part without the stage, a composite replacing nothing, and a ref leaving the folder', async () => {
    await expect(openModelPack(composite({ captionDecoder: '../clip/' }), { resolve: resolver })).rejects.toThrow(/packs\/clip has no stage "captionDecoder"/);
    await expect(openModelPack(composite({}), { resolve: resolver })).rejects.toThrow(/replaces no stage/);
    expect(resolveFolderRef('modelpack/', '../clip-l14')).toBe('clip-l14/');
    expect(resolveFolderRef('a/modelpack/', './vd/')).toBe('a/modelpack/vd/');
    expect(() => resolveFolderRef('modelpack/', '../../x')).toThrow(/leaves the folder/);
    expect(() => resolveFolderRef('', 'https://example.org/p/')).toThrow(/absolute location/);
  });

  it('choosePrecision: a stage packed in float16 only stays float16 everywhere, saying why', () => {
    const only16 = { settings: { precision: 'float16' }, variants: undefined };
    expect(choosePrecision(only16, { setting: 'auto', onWebgpu: false, shaderF16: false })).toEqual({ precision: 'float16', reason: 'the pack has no float32 build of this stage' });
    expect(choosePrecision(only16, { setting: 'float32', onWebgpu: true, shaderF16: true }).precision).toBe('float16');
    // packed in float16 with a float32 variant: on wasm (or after a fallback) the float32 variant
    const both = { settings: { precision: 'float16' }, variants: { float32: { file: 'x.f32.onnx' } } };
    expect(choosePrecision(both, { setting: 'auto', onWebgpu: false, shaderF16: true, fellBack: 'WebGPU could not run this stage' })).toEqual({
      variant: 'float32',
      precision: 'float32',
      reason: 'fell back to wasm (WebGPU could not run this stage): float32 (no float16 arithmetic there)',
    });
  });
});
