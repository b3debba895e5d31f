// Which build of a stage to load: a stage pack may hold a float32 graph (the stage's `file` and
// `data`) and a float16 one (`variants.float16`: half the bytes, half-precision arithmetic inside
// the same float32 contract). Half precision only pays where the GPU computes in it: WebGPU with
// the adapter feature `shader-f16`; on wasm or without the feature the float32 graph is loaded
// (float32 is the reference arithmetic; there the float16 build would only save download bytes).
// The choice is made per stage before any weight byte is read, so only one build is downloaded.
// A stage that then falls back from WebGPU to wasm is decided again (fellBack): under 'auto' it
// swaps its float16 build for the float32 one (PackSessions, via LoadedModelPack.wasmBuild).
import type { PackedStage } from './packers/stagePack.ts';

/** The page's setting: 'auto' chooses as above; the others force a build wherever it exists. */
export type PrecisionSetting = 'auto' | 'float32' | 'float16';
export const PRECISION_SETTINGS: readonly PrecisionSetting[] = ['auto', 'float32', 'float16'];

export interface PrecisionContext {
  setting: PrecisionSetting;
  /** The stage's session will run on WebGPU. */
  onWebgpu: boolean;
  /** The WebGPU adapter offers `shader-f16`. */
  shaderF16: boolean;
  /** Why a stage meant for WebGPU runs on wasm after all (it is decided again, with onWebgpu false). */
  fellBack?: string;
}

export interface PrecisionChoice {
  /** The variant to load (a key of `variants`), or undefined for the stage's own file. */
  variant?: string;
  /** float32 or float16: the weights' precision of what is loaded. */
  precision: string;
  /** Why (shown in the UI and in provenance). */
  reason: string;
}

/** The precision of a stage's own graph (packers record it in settings.precision; float32 when absent). */
export function mainPrecision(spec: Pick<PackedStage, 'settings'>): string {
  const p = spec.settings?.precision;
  return typeof p === 'string' ? p : 'float32';
}

/** Picks the build of one stage (see the file's head comment). */
export function choosePrecision(spec: Pick<PackedStage, 'settings' | 'variants'>, ctx: PrecisionContext): PrecisionChoice {
  const main = mainPrecision(spec);
  const has16 = main === 'float16' || spec.variants?.float16 !== undefined;
  const f16 = (reason: string): PrecisionChoice => (main === 'float16' ? { precision: 'float16', reason } : { variant: 'float16', precision: 'float16', reason });
  if (!has16) return { precision: main, reason: 'the pack has no float16 build of this stage' };
  if (ctx.setting === 'float16') return f16('float16 chosen in the settings');
  if (ctx.setting === 'float32') {
    if (main === 'float32') return { precision: 'float32', reason: 'float32 chosen in the settings' };
    return spec.variants?.float32 ? { variant: 'float32', precision: 'float32', reason: 'float32 chosen in the settings' } : f16('the pack has no float32 build of this stage');
  }
  if (!ctx.onWebgpu) {
    const where = ctx.fellBack ? `fell back to wasm (${ctx.fellBack})` : 'runs on wasm';
    if (main === 'float32') return { precision: 'float32', reason: `${where}: float32 (no float16 arithmetic there)` };
    return spec.variants?.float32 ? { variant: 'float32', precision: 'float32', reason: `${where}: float32 (no float16 arithmetic there)` } : f16('the pack has no float32 build of this stage');
  }
  if (!ctx.shaderF16) return main === 'float32' ? { precision: 'float32', reason: 'the WebGPU adapter lacks shader-f16' } : f16('the pack has no float32 build of this stage');
  return f16('WebGPU with shader-f16: half the bytes');
}

/** Whether this context's WebGPU adapter offers `shader-f16` (false without WebGPU). */
export async function adapterHasShaderF16(): Promise<boolean> {
  type Gpu = { requestAdapter(): Promise<{ features: { has(f: string): boolean } } | null> };
  const gpu = typeof navigator === 'undefined' ? undefined : (navigator as unknown as { gpu?: Gpu }).gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter())?.features.has('shader-f16') ?? false;
  } catch {
    return false;
  }
}
