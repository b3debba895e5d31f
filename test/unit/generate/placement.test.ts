// Stage placement when WebGPU is asked for (service.ts chooseExecutionProvider): a CPU-emulated
// adapter (SwiftShader) runs the pipeline on wasm under the default 'fastest' policy, with the reason
// the page shows next to the badge; 'webgpu' keeps WebGPU (the browser specs' coverage); a real GPU
// gets WebGPU; a failed probe falls back with the probe's reason.
import { describe, expect, it } from 'vitest';
import { chooseExecutionProvider, cpuEmulationReason } from '../../../src/core/generate/service.ts';
import type { WebgpuAdapterInfo } from '../../../src/core/decode/backend.ts';

const swiftshader: WebgpuAdapterInfo = { vendor: 'google', architecture: 'swiftshader', device: '', description: '', software: true };
const realGpu: WebgpuAdapterInfo = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'H100', software: false };

describe('chooseExecutionProvider', () => {
  it("runs on wasm on a CPU-emulated adapter under 'fastest', and says why", () => {
    const r = chooseExecutionProvider({ ok: true }, swiftshader, 'fastest');
    expect(r.ep).toBe('wasm');
    expect(r.reason).toBe(cpuEmulationReason(swiftshader));
    expect(r.reason).toMatch(/CPU emulation \(swiftshader\)/);
  });

  it("keeps WebGPU for every stage when asked ('webgpu'), and on a real GPU", () => {
    expect(chooseExecutionProvider({ ok: true }, swiftshader, 'webgpu')).toEqual({ ep: 'webgpu' });
    expect(chooseExecutionProvider({ ok: true }, realGpu, 'fastest')).toEqual({ ep: 'webgpu' });
    // adapter info unreadable: WebGPU as asked
    expect(chooseExecutionProvider({ ok: true }, null, 'fastest')).toEqual({ ep: 'webgpu' });
  });

  it('falls back to wasm with the probe reason when WebGPU does not start', () => {
    expect(chooseExecutionProvider({ ok: false, reason: 'navigator.gpu is not available' }, null, 'webgpu')).toEqual({ ep: 'wasm', reason: 'navigator.gpu is not available' });
  });
});
