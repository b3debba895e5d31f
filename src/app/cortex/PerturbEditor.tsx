// Perturbation controls: choose a kind, move its sliders (the newest perturbation updates live as
// a draft on top of the stack), keep it, and the stack list with undo and reset.
import { useEffect, useState } from 'react';
import type { Manifest } from '../../core/bundle/manifest.ts';
import { useBundleStore } from '../../state/bundleStore.ts';
import { useCortexStore } from '../../state/cortexStore.ts';
import type { Perturbation, RoiInfo } from '../../core/cortex/protocol.ts';
import { Button, Select, Slider } from '../common/controls.tsx';

type Kind = Perturbation['kind'];

const KIND_LABEL: Record<Kind, string> = {
  gain: 'gain (0 = silence)',
  add: 'add a constant',
  blob: 'smooth blob',
  replace: 'replace with another trial',
  drive: 'drive toward a stimulus',
};

export function describe(p: Perturbation, manifest: Manifest): string {
  const stim = (id: number) => manifest.stimuli.find((s) => s.id === id)?.name ?? `#${id}`;
  switch (p.kind) {
    case 'gain':
      return p.k === 0 ? `silence ${p.roi}` : `${p.roi} × ${p.k.toFixed(2)}`;
    case 'add':
      return `${p.roi} ${p.value >= 0 ? '+' : '−'} ${Math.abs(p.value).toFixed(2)}`;
    case 'blob':
      return `blob in ${p.roi}: ${p.amplitude.toFixed(1)} at ${p.hemi ? 'rh' : 'lh'} v${p.vertex}, σ ${p.sigmaMm} mm`;
    case 'replace': {
      const t = manifest.trials[p.trial];
      return `${p.roi} ← trial #${p.trial}${t ? ` (${t.condition}, ${stim(t.stimulus)})` : ''}`;
    }
    case 'drive':
      return `${p.roi} → “${stim(p.stimulus)}” (${p.head}), strength ${p.strength.toFixed(2)}`;
  }
}

interface Props {
  manifest: Manifest;
  subjectId: number;
  stimulus: number;
  condition: 'vision' | 'imagery';
  roi: RoiInfo | null;
  blobCentre: { hemi: number; vertex: number } | null;
  onPickBlob(): void;
}

export function PerturbEditor({ manifest, subjectId, stimulus, condition, roi, blobCentre, onPickBlob }: Props) {
  const stack = useCortexStore((s) => s.stack);
  const draft = useCortexStore((s) => s.draft);
  const set = useCortexStore((s) => s.set);
  const [kind, setKind] = useState<Kind>('gain');
  const [k, setK] = useState(0);
  const [value, setValue] = useState(1);
  const [amp, setAmp] = useState(3);
  const [sigma, setSigma] = useState(6);
  const other = condition === 'vision' ? 'imagery' : 'vision';
  const replaceTrials = manifest.trials.map((t, i) => ({ t, i })).filter(({ t }) => t.subject === subjectId && t.stimulus === stimulus && t.condition !== 'attention');
  // The replace source defaults to the same stimulus in the other condition; a choice the user made
  // holds only for the stimulus/condition it was made for (derived, not reset by an effect).
  const choiceKey = `${subjectId}|${stimulus}|${condition}`;
  const [trialChoice, setTrialChoice] = useState<{ key: string; trial: number } | null>(null);
  const defaultTrial = (replaceTrials.find(({ t }) => t.condition === other) ?? replaceTrials[0])?.i ?? null;
  const trial = trialChoice?.key === choiceKey ? trialChoice.trial : defaultTrial;
  const setTrial = (t: number) => setTrialChoice({ key: choiceKey, trial: t });
  const [target, setTarget] = useState(0);
  const [strength, setStrength] = useState(0.5);

  const committed = draft ? stack.slice(0, -1) : stack;

  const build = (over: Partial<{ k: number; value: number; amp: number; sigma: number; trial: number; target: number; strength: number; kind: Kind }> = {}): Perturbation | null => {
    if (!roi) return null;
    const kk = over.kind ?? kind;
    switch (kk) {
      case 'gain':
        return { kind: 'gain', roi: roi.name, k: over.k ?? k };
      case 'add':
        return { kind: 'add', roi: roi.name, value: over.value ?? value };
      case 'blob':
        if (!blobCentre) return null;
        return { kind: 'blob', roi: roi.name, hemi: blobCentre.hemi, vertex: blobCentre.vertex, amplitude: over.amp ?? amp, sigmaMm: over.sigma ?? sigma };
      case 'replace': {
        const t = over.trial ?? trial;
        return t === null ? null : { kind: 'replace', roi: roi.name, trial: t };
      }
      case 'drive':
        return { kind: 'drive', roi: roi.name, head: 'image', stimulus: over.target ?? target, strength: over.strength ?? strength };
    }
  };

  const live = (over: Parameters<typeof build>[0]) => {
    const p = build(over);
    if (p) set({ stack: [...committed, p], draft: true });
  };

  useEffect(() => {
    if (draft && kind === 'blob' && blobCentre) live({});
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [blobCentre]);

  const slider = (label: string, v: number, min: number, max: number, step: number, on: (x: number) => void, testid: string) => (
    <label className="cortex__slider">
      <span>
        {label} <strong>{v.toFixed(2)}</strong>
      </span>
      <Slider min={min} max={max} step={step} value={v} onValue={on} data-testid={testid} />
    </label>
  );

  return (
    <div className="cortex__editor" data-testid="cortex-editor">
      <h3>Perturb {roi ? <span className="cortex__roi-tag" style={{ borderColor: roi.color }}>{roi.name}</span> : <span className="muted">— click an ROI on the surface or in the list</span>}</h3>
      <Select value={kind} onChange={(e) => setKind(e.currentTarget.value as Kind)} disabled={!roi} data-testid="cortex-kind" aria-label="Perturbation kind">
        {(Object.keys(KIND_LABEL) as Kind[]).map((x) => (
          <option key={x} value={x}>
            {KIND_LABEL[x]}
          </option>
        ))}
      </Select>
      {roi && kind === 'gain' && slider('gain k', k, 0, 3, 0.05, (x) => (setK(x), live({ k: x })), 'cortex-gain')}
      {roi && kind === 'add' && slider('add', value, -3, 3, 0.05, (x) => (setValue(x), live({ value: x })), 'cortex-add')}
      {roi && kind === 'blob' && (
        <>
          <div className="muted">
            {blobCentre ? `centre: ${blobCentre.hemi ? 'rh' : 'lh'} vertex ${blobCentre.vertex}` : 'no centre yet'}{' '}
            <Button kind="small" onClick={onPickBlob}>
              pick on surface
            </Button>
          </div>
          {slider('amplitude', amp, -6, 6, 0.1, (x) => (setAmp(x), live({ amp: x })), 'cortex-blob-amp')}
          {slider('σ (mm, folded surface, Euclidean)', sigma, 1, 25, 0.5, (x) => (setSigma(x), live({ sigma: x })), 'cortex-blob-sigma')}
        </>
      )}
      {roi && kind === 'replace' && (
        <label className="cortex__slider">
          <span>source trial</span>
          <Select
            value={trial ?? ''}
            onChange={(e) => {
              const t = Number(e.currentTarget.value);
              setTrial(t);
              live({ trial: t });
            }}
            data-testid="cortex-replace-trial"
          >
            {replaceTrials.map(({ t, i }) => (
              <option key={i} value={i}>
                #{i} · {t.condition} · run {t.run} · repeat {t.repeat + 1}
              </option>
            ))}
          </Select>
        </label>
      )}
      {roi && kind === 'drive' && (
        <>
          <label className="cortex__slider">
            <span>target stimulus</span>
            <Select
              value={target}
              onChange={(e) => {
                const t = Number(e.currentTarget.value);
                setTarget(t);
                live({ target: t });
              }}
              data-testid="cortex-drive-target"
            >
              {manifest.stimuli.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.cue} · {s.name}
                </option>
              ))}
            </Select>
          </label>
          {slider('strength', strength, 0, 1, 0.01, (x) => (setStrength(x), live({ strength: x })), 'cortex-drive-strength')}
          <div className="muted small">Smallest change inside the ROI that moves the image embedding toward the target (least squares through the ROI&apos;s rows of A, then B).</div>
        </>
      )}
      <div className="cortex__buttons">
        <Button kind="primary" disabled={!roi} onClick={() => live({})} data-testid="cortex-apply">
          {draft ? 'Update' : 'Apply'}
        </Button>
        <Button disabled={!draft} onClick={() => set({ draft: false })} data-testid="cortex-keep">
          Keep &amp; add another
        </Button>
      </div>
    </div>
  );
}

export function StackList() {
  const stack = useCortexStore((s) => s.stack);
  const draft = useCortexStore((s) => s.draft);
  const set = useCortexStore((s) => s.set);
  const manifest = useCortexManifest();
  return (
    <div className="cortex__stack" data-testid="cortex-stack">
      <h3>
        Perturbation stack <span className="muted">({stack.length})</span>
      </h3>
      {stack.length === 0 ? (
        <div className="muted">No perturbation: the trial as measured.</div>
      ) : (
        <ol>
          {stack.map((p, i) => (
            <li key={i} className={draft && i === stack.length - 1 ? 'is-draft' : ''}>
              {manifest ? describe(p, manifest) : p.kind}
              {draft && i === stack.length - 1 ? <span className="muted"> (editing)</span> : null}
            </li>
          ))}
        </ol>
      )}
      <div className="cortex__buttons">
        <Button disabled={!stack.length} onClick={() => set({ stack: stack.slice(0, -1), draft: false })} data-testid="cortex-undo">
          Undo
        </Button>
        <Button disabled={!stack.length} onClick={() => set({ stack: [], draft: false })} data-testid="cortex-reset">
          Reset
        </Button>
      </div>
    </div>
  );
}

function useCortexManifest() {
  return useBundleStore((s) => s.manifest);
}
