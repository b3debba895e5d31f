// The low-level image re-decoded on every perturbation: the perturbed 'blurry' head prediction goes
// through the bundle's low-level decoder (the VDVAE-role ONNX graph a demo bundle lists in
// models/models.json: input `latents` [1, N], output `image` [1, 3, S, S] in [0, 1]). The
// unperturbed image is decoded once per baseline; each update decodes only the perturbed one.
// Pixels are converted with base/image.ts's chwToRgb (torchvision's to_pil_image), as the generation
// pipeline does, so the cortex view and a reconstruction show the same 64x64 image for the same latents.
import { BundleError } from '../base/errors.ts';
import { sha256Hex } from '../bundle/sha256.ts';
import type { ShardSource } from '../bundle/source.ts';
import type { HeadName } from '../bundle/manifest.ts';
import type { TensorSpec } from '../generate/modelPack.ts';
import { chwToRgb, type RgbImage } from '../base/image.ts';
import { createSession, runFloat, type OrtSession } from '../onnx/runtime.ts';

export const MODELS_LISTING = 'models/models.json';
export const LOWLEVEL_DECODER = 'lowlevel_decoder';
/** The head whose prediction is the low-level decoder's latents. */
export const LOWLEVEL_HEAD: HeadName = 'blurry';

export interface LowLevelDecoderFile {
  bytes: Uint8Array;
  input: TensorSpec;
  output: TensorSpec;
  latents: number;
  width: number;
  height: number;
  /** models.json `kind` ("simulated" for the demo). */
  kind: string;
}

interface ListedModel {
  name: string;
  file: string;
  bytes: number;
  sha256: string;
  inputs?: TensorSpec[];
  outputs?: TensorSpec[];
}

/**
 * Reads and verifies (size, sha256, signature) the low-level decoder listed in models/models.json.
 * Returns null with the reason when the bundle has none; throws BundleErrors for a broken listing.
 */
export async function readLowLevelDecoder(source: ShardSource): Promise<{ decoder: LowLevelDecoderFile } | { decoder: null; reason: string }> {
  const file = `${source.label}/${MODELS_LISTING}`;
  let raw: Uint8Array;
  try {
    raw = await source.read(MODELS_LISTING);
  } catch {
    return { decoder: null, reason: `this bundle has no low-level decoder (no ${MODELS_LISTING})` };
  }
  let listing: { kind?: unknown; models?: unknown };
  try {
    listing = JSON.parse(new TextDecoder().decode(raw));
  } catch (e) {
    throw new BundleError(file, `not valid JSON (${(e as Error).message})`, { cause: e });
  }
  const models = Array.isArray(listing.models) ? (listing.models as ListedModel[]) : [];
  const m = models.find((x) => x && x.name === LOWLEVEL_DECODER);
  if (!m) return { decoder: null, reason: `this bundle has no low-level decoder ("${LOWLEVEL_DECODER}" is not in ${MODELS_LISTING})` };
  const input = m.inputs?.find((t) => t.name === 'latents') ?? m.inputs?.[0];
  const output = m.outputs?.find((t) => t.name === 'image') ?? m.outputs?.[0];
  if (!input || input.shape.length !== 2 || typeof input.shape[1] !== 'number') {
    throw new BundleError(file, `low-level decoder input shape [${input?.shape.join(', ')}]`, { field: `models[${LOWLEVEL_DECODER}].inputs[0].shape`, expected: '[1, N]' });
  }
  const os = output?.shape ?? [];
  if (!output || os.length !== 4 || os[1] !== 3 || typeof os[2] !== 'number' || typeof os[3] !== 'number') {
    throw new BundleError(file, `low-level decoder output shape [${os.join(', ')}]`, { field: `models[${LOWLEVEL_DECODER}].outputs[0].shape`, expected: '[1, 3, H, W]' });
  }
  const bytes = await source.read(m.file);
  if (bytes.byteLength !== m.bytes) throw new BundleError(`${source.label}/${m.file}`, `file has ${bytes.byteLength} bytes`, { field: `models[${LOWLEVEL_DECODER}].bytes`, expected: String(m.bytes) });
  const h = await sha256Hex(bytes);
  if (h !== m.sha256) throw new BundleError(`${source.label}/${m.file}`, `sha256 ${h} does not match the listing`, { field: `models[${LOWLEVEL_DECODER}].sha256`, expected: m.sha256 });
  return {
    decoder: { bytes, input, output, latents: input.shape[1] as number, height: os[2] as number, width: os[3] as number, kind: typeof listing.kind === 'string' ? listing.kind : 'simulated' },
  };
}

/** How the decoder's execution provider was chosen: each candidate's probe time or failure. */
export interface ProviderTrial {
  provider: 'webgpu' | 'wasm';
  /** Median milliseconds of the probe decodes (after one warm-up), or null when it failed. */
  ms: number | null;
  error?: string;
}

/** One onnxruntime-web session of the low-level decoder. */
export class LowLevelDecoder {
  /** Filled by createFastest: what was tried and how fast. */
  trials: ProviderTrial[] = [];

  private constructor(readonly file: LowLevelDecoderFile, private session: OrtSession, public executionProvider: string) {}

  /** Creates the session: WebGPU first when asked, wasm otherwise (or when WebGPU fails). */
  static async create(file: LowLevelDecoderFile, opts: { preferWebgpu?: boolean } = {}): Promise<LowLevelDecoder> {
    if (opts.preferWebgpu) {
      try {
        return new LowLevelDecoder(file, await createSession(file.bytes, { executionProviders: ['webgpu'] }), 'webgpu');
      } catch {
        /* no WebGPU adapter or kernel: wasm below */
      }
    }
    return new LowLevelDecoder(file, await createSession(file.bytes, { executionProviders: ['wasm'] }), 'wasm');
  }

  /**
   * The fastest working provider: wasm is the reference; every other candidate must start, decode
   * the probe latents to the same pixels as wasm (within 2/255, float32 rounding across devices)
   * and is kept only when its median probe decode is faster. A failing or differing provider is
   * recorded in `trials` with why. `probes` decodes per candidate after one warm-up.
   */
  static async createFastest(file: LowLevelDecoderFile, opts: { providers?: Array<'webgpu' | 'wasm'>; probes?: number } = {}): Promise<LowLevelDecoder> {
    const probes = opts.probes ?? 3;
    const latents = new Float32Array(file.latents);
    for (let i = 0; i < latents.length; i++) latents[i] = Math.sin(0.37 * i) * 0.5;
    const wasm = new LowLevelDecoder(file, await createSession(file.bytes, { executionProviders: ['wasm'] }), 'wasm');
    const timeProbe = async (d: LowLevelDecoder): Promise<{ ms: number; image: RgbImage }> => {
      const image = await d.decodeStrict(latents);
      const times: number[] = [];
      for (let i = 0; i < probes; i++) {
        const t0 = performance.now();
        await d.decodeStrict(latents);
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      return { ms: times[Math.floor(times.length / 2)], image };
    };
    const ref = await timeProbe(wasm);
    const trials: ProviderTrial[] = [{ provider: 'wasm', ms: ref.ms }];
    let best = wasm;
    let bestMs = ref.ms;
    for (const p of opts.providers ?? ['webgpu']) {
      if (p === 'wasm') continue;
      let cand: LowLevelDecoder | null = null;
      try {
        cand = new LowLevelDecoder(file, await createSession(file.bytes, { executionProviders: [p] }), p);
        const r = await timeProbe(cand);
        let maxDiff = 0;
        for (let i = 0; i < r.image.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(r.image.data[i] - ref.image.data[i]));
        if (maxDiff > 2) throw new Error(`decodes differently from wasm (max pixel difference ${maxDiff})`);
        trials.push({ provider: p, ms: r.ms });
        if (r.ms < bestMs) {
          if (best !== wasm) await best.dispose();
          best = cand;
          bestMs = r.ms;
          cand = null;
        }
      } catch (e) {
        trials.push({ provider: p, ms: null, error: e instanceof Error ? e.message : String(e) });
      } finally {
        if (cand) await cand.dispose();
      }
    }
    if (best !== wasm) await wasm.dispose();
    best.trials = trials;
    return best;
  }

  /** One decode on this session's provider, no fallback (for probing). */
  private async decodeStrict(latents: Float32Array): Promise<RgbImage> {
    const out = await runFloat(this.session, { [this.file.input.name]: { data: latents.slice(), dims: [1, latents.length] } }, this.file.output.name);
    return chwToRgb(out.data, 0, this.file.width, this.file.height);
  }

  /** Latents [N] -> 64x64 (the listing's size) uint8 RGB. */
  async decode(latents: Float32Array): Promise<RgbImage> {
    if (latents.length !== this.file.latents) {
      throw new RangeError(`low-level decoder: the ${LOWLEVEL_HEAD} head has ${latents.length} values, the decoder expects ${this.file.latents} latents`);
    }
    const feeds = { [this.file.input.name]: { data: latents.slice(), dims: [1, latents.length] } };
    let out: Awaited<ReturnType<typeof runFloat>>;
    try {
      out = await runFloat(this.session, feeds, this.file.output.name);
    } catch (e) {
      if (this.executionProvider === 'wasm') throw e;
      // A kernel WebGPU cannot run: move to wasm for good.
      await this.session.release().catch(() => {});
      this.session = await createSession(this.file.bytes, { executionProviders: ['wasm'] });
      this.executionProvider = 'wasm';
      out = await runFloat(this.session, feeds, this.file.output.name);
    }
    return chwToRgb(out.data, 0, this.file.width, this.file.height);
  }

  async dispose(): Promise<void> {
    await this.session.release().catch(() => {});
  }
}

export interface LowLevelImages {
  head: HeadName;
  kind: string;
  executionProvider: string;
  /** How the provider was chosen (probe times per candidate). */
  providerTrials: ProviderTrial[];
  before: RgbImage;
  after: RgbImage;
  /** Milliseconds for this update's decode(s). */
  ms: number;
}

/** Decodes "before" once per baseline prediction and "after" on every update. */
export class LowLevelRedecoder {
  private beforeKey: Float32Array | null = null;
  private beforeEp = '';
  private before: RgbImage | null = null;

  constructor(readonly decoder: LowLevelDecoder) {}

  /**
   * `baseline` is the head's unperturbed prediction (the engine keeps the same array until the
   * baseline changes, so its identity is the cache key); `after` the perturbed prediction.
   */
  async images(baseline: Float32Array, after: Float32Array): Promise<LowLevelImages> {
    const t0 = performance.now();
    if (this.beforeKey !== baseline || !this.before || this.beforeEp !== this.decoder.executionProvider) {
      this.before = await this.decoder.decode(baseline);
      this.beforeKey = baseline;
      this.beforeEp = this.decoder.executionProvider;
    }
    const a = await this.decoder.decode(after);
    if (this.beforeEp !== this.decoder.executionProvider) {
      // WebGPU fell back to wasm on this decode: "before" again on the same provider, so that an
      // unchanged prediction always gives the same pixels.
      this.before = await this.decoder.decode(baseline);
      this.beforeEp = this.decoder.executionProvider;
    }
    return { head: LOWLEVEL_HEAD, kind: this.decoder.file.kind, executionProvider: this.decoder.executionProvider, providerTrials: this.decoder.trials, before: this.before, after: a, ms: performance.now() - t0 };
  }
}
