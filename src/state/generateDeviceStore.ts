// Where the reconstruction pipeline runs (one choice for the whole page: the reconstruct panel and
// the cortex panel's perturbed reconstructions share one generate worker). Round-trips through the
// URL as `?gen=fastest|webgpu|wasm`, so a demo link, a browser test or a benchmark can pin it.
//  - fastest: WebGPU on a real GPU; on a CPU-emulated WebGPU adapter (SwiftShader: no GPU) wasm,
//    which is 10-100x faster there (the badge says why);
//  - webgpu:  WebGPU for every stage whatever the adapter (what the browser tests use);
//  - wasm:    WebAssembly only.
import { create } from 'zustand';
import { registerUrlCodec } from './url.ts';

export const GENERATE_DEVICES = ['fastest', 'webgpu', 'wasm'] as const;
export type GenerateDevice = (typeof GENERATE_DEVICES)[number];

export const GENERATE_DEVICE_LABELS: Record<GenerateDevice, string> = {
  fastest: 'fastest on this device',
  webgpu: 'WebGPU, every stage',
  wasm: 'wasm (CPU)',
};

export const DEFAULT_GENERATE_DEVICE: GenerateDevice = 'fastest';

interface GenerateDeviceState {
  device: GenerateDevice;
  setDevice(device: GenerateDevice): void;
}

export const useGenerateDeviceStore = create<GenerateDeviceState>()((set) => ({
  device: DEFAULT_GENERATE_DEVICE,
  setDevice(device) {
    set({ device });
  },
}));

export function parseGenerateDevice(v: string | null): GenerateDevice | undefined {
  return v && (GENERATE_DEVICES as readonly string[]).includes(v) ? (v as GenerateDevice) : undefined;
}

registerUrlCodec({
  keys: ['gen'],
  read(params) {
    const d = parseGenerateDevice(params.get('gen'));
    if (d) useGenerateDeviceStore.getState().setDevice(d);
  },
  write(params) {
    const d = useGenerateDeviceStore.getState().device;
    if (d === DEFAULT_GENERATE_DEVICE) params.delete('gen');
    else params.set('gen', d);
  },
  subscribe(onChange) {
    return useGenerateDeviceStore.subscribe(onChange);
  },
});
