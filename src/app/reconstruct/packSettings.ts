// The model pack the reconstruction opens and the precision of its weights, kept in the URL so a
// prepared link opens the same pack and build: `?pack=URL` (a model pack or a composite pack's
// folder; default: the bundle's "modelpack/") and `?prec=auto|float32|float16` (default auto:
// float16 where a stage runs on WebGPU with shader-f16, float32 elsewhere; src/core/generate/precision.ts).
import { create } from 'zustand';
import { PRECISION_SETTINGS, type PrecisionSetting } from '../../core/generate/precision.ts';
import { registerUrlCodec } from '../../state/url.ts';

export const PRECISION_LABELS: Record<PrecisionSetting, string> = {
  auto: 'auto (float16 on WebGPU with shader-f16)',
  float32: 'float32',
  float16: 'float16',
};

interface PackSettings {
  precision: PrecisionSetting;
  /** `?pack=`: another model pack than the bundle's own; null for the default. */
  packUrl: string | null;
  setPrecision(p: PrecisionSetting): void;
}

export const usePackSettings = create<PackSettings>()((set) => ({
  precision: 'auto',
  packUrl: null,
  setPrecision(precision) {
    set({ precision });
  },
}));

registerUrlCodec({
  keys: ['prec', 'pack'],
  read(params) {
    const p = params.get('prec');
    const pack = params.get('pack')?.trim();
    usePackSettings.setState({
      ...((PRECISION_SETTINGS as readonly string[]).includes(p ?? '') ? { precision: p as PrecisionSetting } : {}),
      packUrl: pack ? pack : null,
    });
  },
  write(params) {
    const { precision, packUrl } = usePackSettings.getState();
    if (precision === 'auto') params.delete('prec');
    else params.set('prec', precision);
    if (packUrl) params.set('pack', packUrl);
    else params.delete('pack');
  },
  subscribe(onChange) {
    return usePackSettings.subscribe(onChange);
  },
});
