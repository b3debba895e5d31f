// The panel's title line: subject, condition and trial(s), where the head changes run, and the
// presentation-mode switch.
import type { RegionBackendInfo } from '../../core/cortex/protocol.ts';
import { useCortexStore } from '../../state/cortexStore.ts';
import { CortexBackendBadge } from './BackendBadge.tsx';
import { Button } from '../common/controls.tsx';

interface Props {
  subjectId: number;
  condition: 'vision' | 'imagery';
  trials: number[];
  simulated: boolean;
  backend: RegionBackendInfo | null;
}

export function CortexHeader({ subjectId, condition, trials, simulated, backend }: Props) {
  const presentation = useCortexStore((s) => s.presentation);
  const set = useCortexStore((s) => s.set);
  return (
    <h2 className="card__title">
      Cortex &amp; region perturbation
      <span className="muted card__sub">
        subject {subjectId} · {condition} · {trials.length > 1 ? `mean of ${trials.length} trials` : `trial #${trials[0]}`} {simulated ? '· simulated data' : ''}
      </span>
      <CortexBackendBadge info={backend} />
      <Button className="cortex__present-btn" onClick={() => set({ presentation: !presentation })} data-testid="cortex-present">
        {presentation ? 'Exit presentation (Esc)' : 'Presentation'}
      </Button>
    </h2>
  );
}
