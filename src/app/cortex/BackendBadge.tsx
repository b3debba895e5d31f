// Where the cortex panel's head changes run: the tfjs backend the worker started (webgpu -> wasm ->
// cpu -> plain JS) or the engine it fell back to, like the top bar's decoding badge. A software
// WebGPU adapter (SwiftShader in headless Chromium) is labelled "CPU emulation": it is correct but
// says nothing about GPU speed.
import type { RegionBackendInfo } from '../../core/cortex/protocol.ts';

const LABELS: Record<string, string> = { webgpu: 'WebGPU', wasm: 'wasm (CPU)', cpu: 'tfjs cpu', js: 'JS (CPU)' };

export function CortexBackendBadge({ info }: { info: RegionBackendInfo | null }) {
  if (!info) return null;
  const text = info.name === 'webgpu' && info.software ? 'WebGPU · CPU emulation' : (LABELS[info.name] ?? info.name);
  const title = [`Head changes (dx_R·A_R)·B run on: ${info.detail}`, ...info.fallbacks.map((f) => `tried first: ${f}`)].join('\n');
  return (
    <span className={`badge badge--backend badge--${info.name}`} data-testid="cortex-backend" data-backend={info.name} data-software={info.software ? 'true' : 'false'} title={title}>
      <span className="badge__key">perturb</span> {text}
    </span>
  );
}
