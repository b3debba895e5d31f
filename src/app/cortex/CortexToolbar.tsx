// Above the surface: which surface shape, which overlay (with a weight map's output dimension),
// and what a click on the surface does (select an ROI, draw one, place a blob centre).
import type { HeadName } from '../../core/bundle/manifest.ts';
import type { SubjectView } from '../../core/cortex/protocol.ts';
import { useCortexStore, type CortexOverlay } from '../../state/cortexStore.ts';
import { NumberInput, Segmented, Select } from '../common/controls.tsx';

const SHAPES = ['folded', 'inflated', 'flat'] as const;
const TOOLS = [
  ['select', 'select ROI'],
  ['brush', 'draw ROI'],
  ['blob', 'blob centre'],
] as const;

export function hasShape(view: SubjectView | null, k: (typeof SHAPES)[number]): boolean {
  return !!view?.geometry.every((g) => g.shapes[k]);
}

export function CortexToolbar({ view }: { view: SubjectView | null }) {
  const shape = useCortexStore((s) => s.shape);
  const overlay = useCortexStore((s) => s.overlay);
  const tool = useCortexStore((s) => s.tool);
  const set = useCortexStore((s) => s.set);
  const heads = view?.heads ?? [];
  const weightsHead = overlay.kind === 'weights' ? heads.find((h) => h.name === overlay.head) : undefined;
  const outputs = weightsHead?.outputShape.reduce((a, b) => a * b, 1) ?? 1;
  return (
    <div className="cortex__toolbar cortex__controls">
      <Segmented
        label="Surface"
        value={shape}
        onChange={(k) => set({ shape: k, camera: null })}
        options={SHAPES.map((k) => ({ value: k, label: k, disabled: !hasShape(view, k), testid: `cortex-shape-${k}` }))}
      />
      <Select
        value={overlay.kind === 'weights' ? `weights:${overlay.head}` : overlay.kind}
        onChange={(e) => {
          const v = e.currentTarget.value;
          set({ overlay: v.startsWith('weights:') ? { kind: 'weights', head: v.slice(8) as HeadName } : ({ kind: v } as CortexOverlay) });
        }}
        data-testid="cortex-overlay"
        aria-label="Overlay"
      >
        <option value="betas">betas</option>
        <option value="perturbation">perturbation Δx</option>
        {heads.map((h) => (
          <option key={h.name} value={`weights:${h.name}`}>
            weights: {h.name} head
          </option>
        ))}
        <option value="none">none (ROIs only)</option>
      </Select>
      {overlay.kind === 'weights' && (
        <label className="cortex__dim">
          output dim
          <NumberInput
            min={-1}
            max={outputs - 1}
            value={overlay.dim ?? -1}
            onValue={(d) => set({ overlay: { kind: 'weights', head: overlay.head, dim: d >= 0 ? d : undefined } })}
            title="-1 = norm over the head's outputs"
          />
        </label>
      )}
      <Segmented label="Tool" value={tool} onChange={(t) => set({ tool: t })} options={TOOLS.map(([t, label]) => ({ value: t, label, testid: `cortex-tool-${t}` }))} />
    </div>
  );
}
