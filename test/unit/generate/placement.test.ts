// Stage placement when WebGPU is asked for (service.ts chooseExecutionProvider): a CPU-emulated
// adapter (SwiftShader) runs the pipeline on wasm under the default 'fastest' policy, with the reason
// the page shows next to the badge; 'webgpu' keeps WebGPU (the browser specs' coverage); a real GPU
// gets WebGPU; a failed probe falls back with the probe's reason. Overlapping opens are serialised.
import { describe, expect, it } from 'vitest';
import { chooseExecutionProvider, cpuEmulationReason, GenerateService } from '../../../src/core/generate/service.ts';
import { PrefixSource } from '../../../src/core/bundle/prefixSource.ts';
import { writeMiniReconBundle } from '../../../src/core/simulate/miniBundle.ts';
import { MemoryStore } from './memory.ts';
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

describe('GenerateService.open', () => {
  it('serialises overlapping opens (a device switch while the first open still loads): both resolve, the last one wins', async () => {
    const mem = new MemoryStore();
    await writeMiniReconBundle(mem);
    const service = new GenerateService();
    const order: string[] = [];
    // the first open's bundle reads are slow: unserialised, the second open would finish first and
    // the first (stale) one would overwrite its sessions
    const slow = { label: 'slow', read: async (path: string) => (await new Promise((r) => setTimeout(r, 30)), mem.read(path)) };
    const first = service.open(slow, new PrefixSource(mem, 'modelpack/'), { placement: 'fastest' }).then((i) => (order.push('first'), i));
    const second = service.open(mem, new PrefixSource(mem, 'modelpack/'), { placement: 'webgpu' }).then((i) => (order.push('second'), i));
    const [a, b] = await Promise.all([first, second]);
    expect(order).toEqual(['first', 'second']);
    expect(a.placement).toBe('fastest');
    expect(b.placement).toBe('webgpu');
    // no WebGPU in Node: both on wasm, with the probe's reason; the service works after both
    expect(b.executionProvider).toBe('wasm');
    const r = await service.reconstruct({ subject: 1, stimulus: 1, condition: 'vision', settings: { candidates: 2, prior: { steps: 2, cfg: 4, cfgRho: 0.7, shift: 2 }, decoder: { steps: 1, cfg: 1.1, cfgRho: 0.7, shift: 1 } } });
    expect(r.candidates).toHaveLength(2);
    await service.dispose();
  }, 120_000);
});
