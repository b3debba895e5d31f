// Below the surface: what the perturbation does — the re-decoded low-level image, the change of
// each head, the identification of the stimulus among all stimuli, the lesion profile, and the
// full reconstruction before/after. Until the worker has answered for the current selection each
// chart says it is computing; none shows another selection's numbers.
import type { Manifest } from '../../core/bundle/manifest.ts';
import type { HeadName } from '../../core/bundle/manifest.ts';
import type { BundleLocation } from '../../state/bundleStore.ts';
import type { CortexUpdateWithLowLevel, SubjectView } from '../../core/cortex/protocol.ts';
import { useCortexStore } from '../../state/cortexStore.ts';
import { HeadChangeChart, LesionChart, StimulusCosineChart } from './Charts.tsx';
import { LowLevelPair } from './LowLevelPair.tsx';
import { describe } from './PerturbEditor.tsx';
import { PerturbedReconstruction } from './PerturbedReconstruction.tsx';
import { Select } from '../common/controls.tsx';
import { useContentWidth } from '../common/useContentWidth.ts';

interface Props {
  manifest: Manifest;
  location: BundleLocation;
  view: SubjectView | null;
  update: CortexUpdateWithLowLevel | null;
  trialsKey: string;
  subjectId: number;
  stimulus: number;
  condition: 'vision' | 'imagery';
  simulated: boolean;
}

export function CortexResults({ manifest, location, view, update, trialsKey, subjectId, stimulus, condition, simulated }: Props) {
  const stack = useCortexStore((s) => s.stack);
  const draft = useCortexStore((s) => s.draft);
  const lesionHead = useCortexStore((s) => s.lesionHead);
  const lesionMetric = useCortexStore((s) => s.lesionMetric);
  const lesion = useCortexStore((s) => (s.lesion?.key === `${trialsKey}|${stimulus}` ? s.lesion.cells : null));
  const set = useCortexStore((s) => s.set);
  const trueStim = manifest.stimuli.find((s) => s.id === stimulus);
  const last = draft ? stack[stack.length - 1] : null;
  const targetStimulus = last?.kind === 'drive' ? last.stimulus : null;
  const heads = view?.heads ?? [];
  const sim = simulated ? ' · simulated' : '';
  // Outside presentation mode the charts are drawn at their card's width (text at its font size on
  // screen); presentation mode scales fixed-size charts into its grid cells.
  const presentation = useCortexStore((s) => s.presentation);
  const [headsRef, headsW] = useContentWidth<HTMLDivElement>();
  const [cosRef, cosW] = useContentWidth<HTMLDivElement>();
  const [lesionRef, lesionW] = useContentWidth<HTMLDivElement>();
  const fit = (w: number | null) => (presentation || w === null ? undefined : Math.max(260, w));
  return (
    <div className="cortex__charts">
      <div className="cortex__chart cortex__chart--lowlevel">
        <h3>Low-level image (blurry head → low-level decoder){sim}</h3>
        <LowLevelPair result={update?.lowLevel ?? null} />
      </div>
      <div className="cortex__chart cortex__chart--heads" ref={headsRef}>
        <h3>Change per head</h3>
        <HeadChangeChart update={update} width={fit(headsW)} />
        {update && (
          <div className="cortex__facts muted" data-testid="cortex-facts">
            {update.changedVoxels} voxels changed · |Δx| = {update.dxNorm.toFixed(2)} · computed in {update.ms.toFixed(1)} ms (worker, exact factored update)
          </div>
        )}
      </div>
      <div className="cortex__chart cortex__chart--wide cortex__chart--cosine" ref={cosRef}>
        <h3>
          Identification among the {update ? `${update.stimulusIds.length} ` : ''}stimuli
          {update && update.rankBefore !== null && (
            <span className="cortex__rank" data-testid="cortex-rank" data-before={update.rankBefore} data-after={update.rankAfter ?? ''}>
              {' '}
              rank of “{trueStim?.name}”: {update.rankBefore} → <strong>{update.rankAfter}</strong>
            </span>
          )}
        </h3>
        <StimulusCosineChart update={update} manifest={manifest} trueStimulus={stimulus} targetStimulus={targetStimulus} width={fit(cosW)} />
      </div>
      <div className="cortex__chart cortex__chart--wide cortex__chart--lesion" ref={lesionRef}>
        <h3>
          Lesion profile: silencing each ROI ({trueStim?.name}, all repeats)
          {heads.length > 0 && (
            <Select value={lesionHead} onChange={(e) => set({ lesionHead: e.currentTarget.value as HeadName })} aria-label="Lesion head">
              {heads.map((h) => (
                <option key={h.name} value={h.name}>
                  {h.name}
                </option>
              ))}
            </Select>
          )}
          <Select value={lesionMetric} onChange={(e) => set({ lesionMetric: e.currentTarget.value as 'relNorm' | 'cosineChange' })} aria-label="Lesion metric">
            <option value="relNorm">relative norm</option>
            <option value="cosineChange">1 − cosine</option>
          </Select>
        </h3>
        <LesionChart cells={lesion} head={lesionHead} metric={lesionMetric} width={fit(lesionW)} />
      </div>
      <div className="cortex__chart cortex__chart--wide cortex__chart--recon">
        <h3>
          Full reconstruction: unperturbed vs perturbed ({trueStim?.name}, {condition}, repeats averaged){sim}
        </h3>
        <PerturbedReconstruction
          location={location}
          subject={subjectId}
          stimulus={stimulus}
          condition={condition}
          stackLabel={stack.map((p) => describe(p, manifest)).join(' → ') || 'no perturbation'}
          simulated={simulated}
        />
      </div>
    </div>
  );
}
