// Above the surface: which surface shape, which overlay (with a weight map's output dimension),
// and what a click on the surface does (select an ROI, draw one, place a blob centre).
import type { HeadName } from '../../core/bundle/manifest.ts';
import type { SubjectView } from '../../core/cortex/protocol.ts';
import { useCortexStore, type CortexOverlay } from '../../state/cortexStore.ts';

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
      <div className="seg" role="radiogroup" aria-label="Surface">
        {SHAPES.map((k) => (
          <button key={k} type="button" disabled={!hasShape(view, k)} aria-checked={shape === k} className={shape === k ? 'is-active' : ''} onClick={() => set({ shape: k, camera: null })} data-testid={`cortex-shape-${k}`}>
            {k}
          </button>
        ))}
      </div>
      <select
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
      </select>
      {overlay.kind === 'weights' && (
        <label className="cortex__dim">
          output dim
          <input
            type="number"
            min={-1}
            max={outputs - 1}
            value={overlay.dim ?? -1}
            onChange={(e) => {
              const d = Number(e.currentTarget.value);
              set({ overlay: { kind: 'weights', head: overlay.head, dim: d >= 0 ? d : undefined } });
            }}
            title="-1 = norm over the head's outputs"
          />
        </label>
      )}
      <div className="seg" role="radiogroup" aria-label="Tool">
        {TOOLS.map(([t, label]) => (
          <button key={t} type="button" aria-checked={tool === t} className={tool === t ? 'is-active' : ''} onClick={() => set({ tool: t })} data-testid={`cortex-tool-${t}`}>
            {label}
          </button>
        ))}
      </div>
    </div>
  );
}
