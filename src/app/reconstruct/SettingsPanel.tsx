// Every generation setting, MIRAGE's defaults shown and restorable (docs/background.md §4). Disabled by
// the caller's <fieldset disabled> (so starting a run does not re-render these inputs); memoised.
import { memo } from 'react';
import { MIRAGE_DEFAULTS, type DiffusionStageSettings, type GenerateSettings } from '../../core/generate/pipeline.ts';
import { Button, Checkbox, NumberInput } from '../common/controls.tsx';

function Num(props: { label: string; value: number; step?: number; min?: number; max?: number; def: number; onChange: (v: number) => void; testid?: string }) {
  return (
    <label className="rc-field">
      <span>{props.label}</span>
      <NumberInput value={props.value} step={props.step ?? 1} min={props.min} max={props.max} data-testid={props.testid} onValue={props.onChange} />
      <small>MIRAGE: {props.def}</small>
    </label>
  );
}

function Stage(props: { title: string; value: DiffusionStageSettings; def: DiffusionStageSettings; onChange: (v: DiffusionStageSettings) => void; prefix: string }) {
  const { value: v, def: d, onChange } = props;
  return (
    <fieldset className="rc-stage">
      <legend>{props.title}</legend>
      <Num label="steps" value={v.steps} min={1} max={200} def={d.steps} onChange={(steps) => onChange({ ...v, steps })} testid={`${props.prefix}-steps`} />
      <Num label="cfg" value={v.cfg ?? 1} step={0.1} def={d.cfg ?? 1} onChange={(cfg) => onChange({ ...v, cfg })} />
      <Num label="shift" value={v.shift} step={0.1} min={0.1} def={d.shift} onChange={(shift) => onChange({ ...v, shift })} />
      <Num label="cfg ρ" value={v.cfgRho} step={0.05} min={0} max={1} def={d.cfgRho} onChange={(cfgRho) => onChange({ ...v, cfgRho })} />
    </fieldset>
  );
}

export const SettingsPanel = memo(function SettingsPanel(props: { value: GenerateSettings; onChange: (s: GenerateSettings) => void }) {
  const { value: s, onChange } = props;
  const D = MIRAGE_DEFAULTS;
  const set = (patch: Partial<GenerateSettings>) => onChange({ ...s, ...patch });
  return (
    <details className="rc-settings" open>
      <summary>Settings</summary>
      <div className="rc-settings__grid">
        <Num label="seed" value={s.seed} def={D.seed} onChange={(seed) => set({ seed: Math.trunc(seed) })} testid="rc-seed" />
        <Num label="candidates" value={s.candidates} min={1} max={64} def={D.candidates} onChange={(candidates) => set({ candidates: Math.max(1, Math.trunc(candidates)) })} testid="rc-candidates" />
        <Num label="strength" value={s.strength} step={0.05} min={0.05} max={1} def={D.strength} onChange={(strength) => set({ strength })} />
        <Num label="text strength" value={s.textStrength} step={0.05} min={0} max={1} def={D.textStrength} onChange={(textStrength) => set({ textStrength })} />
        <Num label="enhance size (px)" value={s.enhance.size} step={64} min={64} max={2048} def={D.enhance.size} onChange={(size) => set({ enhance: { ...s.enhance, size: Math.trunc(size) } })} />
        <Num label="sharpness" value={s.enhance.sharpness} step={1} def={D.enhance.sharpness} onChange={(sharpness) => set({ enhance: { ...s.enhance, sharpness } })} />
        <Num label="contrast" value={s.enhance.contrast} step={0.1} def={D.enhance.contrast} onChange={(contrast) => set({ enhance: { ...s.enhance, contrast } })} />
        <Num label="caption tokens" value={s.captionMaxTokens} min={0} max={64} def={D.captionMaxTokens} onChange={(captionMaxTokens) => set({ captionMaxTokens: Math.trunc(captionMaxTokens) })} />
        <label className="rc-field">
          <span>use low-level image (img2img)</span>
          <Checkbox checked={s.useLowLevel} onChange={(e) => set({ useLowLevel: e.target.checked })} />
          <small>MIRAGE: yes</small>
        </label>
      </div>
      <Stage title="prior (stage C)" prefix="rc-prior" value={s.prior} def={D.prior} onChange={(prior) => set({ prior })} />
      <Stage title="decoder (stage B)" prefix="rc-decoder" value={s.decoder} def={D.decoder} onChange={(decoder) => set({ decoder })} />
      <Button onClick={() => onChange(MIRAGE_DEFAULTS)}>Reset to MIRAGE defaults</Button>
    </details>
  );
});
