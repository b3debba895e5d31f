// The "audience" mode: MIRAGE Experiment 1 (two-alternative forced choice) run in the room. Trials,
// scoring (Wilson 95% intervals) and the CSV come from src/core/evaluate/audience.ts; answers stay
// in this page's memory and leave it only through the CSV / JSON downloads. Images come from the
// open bundle's reconstructions or this session's (one click: no files to choose), or from a folder
// of PNGs chosen by hand.
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import type { AudienceAnswer, AudienceCandidate, AudienceImage } from '../../core/evaluate/audience.ts';
import { audienceCsv, buildAudienceTrials, scoreAudience } from '../../core/evaluate/audience.ts';
import { PUBLISHED_HUMAN_2AFC } from '../../core/evaluate/published.ts';
import { parseReconFileName } from '../../core/evaluate/runEval.ts';
import { downloadText } from './exportFiles.ts';
import { Button, FilePicker, NumberInput } from '../common/controls.tsx';
import { useBundleStore } from '../../state/bundleStore.ts';
import { sessionRecons } from '../reconstruct/sessionRecons.ts';
import { bundleAudienceSource, combinedAudienceSource, sessionAudienceSource } from './audienceSources.tsx';

export interface AudienceSource {
  candidates: AudienceCandidate[];
  renderImage: (img: AudienceImage) => ReactNode;
  /** where the images come from, shown with the results */
  label: string;
}

/** Builds a source from local PNG files: <method folder>/<subject>_<condition>_<stimulus>_<rep>.png and gt_<stimulus>.png. */
function sourceFromFiles(files: FileList): AudienceSource | string {
  const recon = new Map<string, string>();
  const gt = new Map<number, string>();
  const candidates: AudienceCandidate[] = [];
  for (const f of Array.from(files)) {
    const rel = (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
    const parts = rel.split('/');
    const gm = /^gt_(\d+)\.png$/i.exec(f.name);
    if (gm) {
      gt.set(Number(gm[1]), URL.createObjectURL(f));
      continue;
    }
    const p = parseReconFileName(f.name);
    if (!p) continue;
    const method = parts.length >= 2 ? parts[parts.length - 2] : 'uploaded';
    const c = { method, condition: p.condition, stimulus: p.stimulus, repetition: p.repetition };
    recon.set(`${method}|${p.condition}|${p.stimulus}|${p.repetition}`, URL.createObjectURL(f));
    candidates.push(c);
  }
  const usable = candidates.filter((c) => gt.has(c.stimulus));
  if (!usable.length) return 'No usable files: expected gt_<stimulus>.png and <subject>_<condition>_<stimulus>_<rep>.png (one folder per method).';
  return {
    candidates: usable,
    label: `${usable.length} local PNG reconstructions`,
    renderImage: (img) => {
      const src = img.kind === 'gt' ? gt.get(img.stimulus) : recon.get(`${img.candidate.method}|${img.candidate.condition}|${img.candidate.stimulus}|${img.candidate.repetition}`);
      return <img src={src} alt="" className="aud-img" />;
    },
  };
}

export function AudienceMode(props: { source?: AudienceSource; subject: number | null }) {
  const manifest = useBundleStore((s) => s.manifest);
  const session = useSyncExternalStore(sessionRecons.subscribe, sessionRecons.list, sessionRecons.list);
  const [chosen, setChosen] = useState<AudienceSource | null>(null);
  const [error, setError] = useState<string | null>(null);
  const source = props.source ?? chosen;
  const [seed, setSeed] = useState(1);
  const [perCell, setPerCell] = useState(6);
  const [started, setStarted] = useState(false);
  const [answers, setAnswers] = useState<AudienceAnswer[]>([]);
  const shownAt = useRef(0);
  const trials = useMemo(() => (source ? buildAudienceTrials(source.candidates, { seed, perCell }) : []), [source, seed, perCell]);
  const current = started ? trials[answers.length] : undefined;
  const finished = started && answers.length >= trials.length;

  // What can be started with one click: the bundle's reconstructions, this session's, or both.
  const offers = useMemo(() => {
    if (!manifest || props.subject === null) return [];
    const b = bundleAudienceSource(manifest, props.subject);
    const s = sessionAudienceSource(manifest, props.subject, session);
    const both = b && s ? combinedAudienceSource(b, s) : null;
    return [
      { id: 'bundle', what: "this bundle's reconstructions", src: b },
      { id: 'session', what: "this session's reconstructions", src: s },
      { id: 'both', what: 'both', src: both },
    ].flatMap((o) => (o.src ? [{ ...o, src: o.src, trials: buildAudienceTrials(o.src.candidates, { seed, perCell }).length }] : []));
  }, [manifest, props.subject, session, seed, perCell]);

  const begin = useCallback((src: AudienceSource) => {
    setChosen(src);
    setAnswers([]);
    setStarted(true);
    shownAt.current = performance.now();
  }, []);

  const answer = useCallback(
    (choice: 'left' | 'right') => {
      if (!current) return;
      setAnswers((a) => [...a, { trial: current.index, choice, ms: performance.now() - shownAt.current }]);
      shownAt.current = performance.now();
    },
    [current],
  );
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'ArrowLeft') answer('left');
      if (e.key === 'ArrowRight') answer('right');
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [answer]);

  if (!started) {
    return (
      <section className="aud" data-testid="audience-setup">
        <h3>Audience mode (2AFC)</h3>
        <p>
          Each trial shows a ground truth and two reconstructions by the same method; the room picks the one closer to the ground truth (← / → keys or click).
          Attention checks put the ground truth itself beside a foil. Subject {props.subject ?? '–'} (the subject chosen on the left).
        </p>
        <div className="aud-fields">
          <label>
            seed <NumberInput value={seed} min={1} onValue={(v) => setSeed(Math.max(1, Math.trunc(v)))} data-testid="aud-seed" />
          </label>
          <label>
            trials per method × condition <NumberInput value={perCell} min={1} onValue={(v) => setPerCell(Math.max(1, Math.trunc(v)))} data-testid="aud-per-cell" />
          </label>
        </div>
        <div className="aud-sources">
          {offers.map((o) => (
            <div key={o.id} className="aud-source">
              <Button kind="primary" disabled={!o.trials} onClick={() => begin(o.src)} data-testid={`aud-start-${o.id}`}>
                Start with {o.what} ({o.trials} trials)
              </Button>
              <span className="muted">
                {o.src.label}
                {!o.trials ? ' — needs reconstructions of at least 2 stimuli per method and condition (Results: "Reconstruct all … stimuli")' : ''}
              </span>
            </div>
          ))}
          {!offers.length ? (
            <p className="muted" data-testid="aud-none">
              No reconstructions of subject {props.subject ?? '–'} in this bundle or this session yet: in Results, &quot;Reconstruct all … stimuli&quot; makes them (or
              run the Reconstruction tab), or choose a folder of PNGs.
            </p>
          ) : null}
          <div className="aud-source">
            <FilePicker
              folder
              label="Choose a folder of PNGs…"
              testid="aud-folder"
              onFiles={(files) => {
                const s = sourceFromFiles(files);
                if (typeof s === 'string') setError(s);
                else {
                  setError(null);
                  begin(s);
                }
              }}
            />
            <span className="muted">
              ground truths <code>gt_&lt;stimulus&gt;.png</code> and one sub-folder per method with <code>&lt;subject&gt;_&lt;condition&gt;_&lt;stimulus&gt;_&lt;rep&gt;.png</code>;
              read in this page only.
            </span>
          </div>
          {props.source ? (
            <Button kind="primary" disabled={!trials.length} onClick={() => begin(props.source!)}>
              Start ({trials.length} trials, {props.source.label})
            </Button>
          ) : null}
        </div>
        {error && <p className="error">{error}</p>}
      </section>
    );
  }
  if (!source) return null;
  if (finished || !current) {
    const score = scoreAudience(trials, answers);
    return (
      <section className="aud" data-testid="audience-results">
        <h3>Results ({score.answered} answers)</h3>
        <p>
          Attention checks passed: {score.attention.passed} / {score.attention.total}
          {score.attention.total > 0 && score.attention.passed < score.attention.total ? ' — some answers may be careless.' : ''}
        </p>
        <table className="eval-table">
          <thead>
            <tr>
              <th>method</th>
              <th>condition</th>
              <th>correct</th>
              <th>accuracy</th>
              <th>95% CI (Wilson)</th>
            </tr>
          </thead>
          <tbody>
            {score.cells.map((c) => (
              <tr key={`${c.method}|${c.condition}`}>
                <td>{c.method}</td>
                <td>{c.condition}</td>
                <td>
                  {c.interval.successes} / {c.interval.trials}
                </td>
                <td>{(100 * c.interval.proportion).toFixed(1)}%</td>
                <td>
                  {(100 * c.interval.lower).toFixed(1)}–{(100 * c.interval.upper).toFixed(1)}%
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <p className="muted">
          This room, {source.label}. For comparison, published human 2AFC accuracy on real NSD-Imagery (imagery): MIRAGE{' '}
          {PUBLISHED_HUMAN_2AFC.imagery.MIRAGE}%, MindEye1 {PUBLISHED_HUMAN_2AFC.imagery.MindEye1}% — {PUBLISHED_HUMAN_2AFC.citation}. Chance is 50%.
        </p>
        <div className="aud-source">
          <Button onClick={() => downloadText(audienceCsv(trials, answers), 'audience-2afc.csv')} data-testid="aud-csv">
            Export answers (CSV)
          </Button>
          <Button
            onClick={() => downloadText(JSON.stringify({ source: source.label, seed, perCell, score, trials, answers, published: PUBLISHED_HUMAN_2AFC }, null, 1), 'audience-2afc.json', 'application/json')}
            data-testid="aud-json"
          >
            Export results (JSON)
          </Button>
          <Button onClick={() => setStarted(false)}>New session</Button>
        </div>
      </section>
    );
  }
  return (
    <section className="aud" aria-live="polite" data-testid="audience-trial">
      <div className="aud-progress">
        Trial {answers.length + 1} / {trials.length}
      </div>
      <div className="aud-gt">
        <div className="label">Ground truth</div>
        {source.renderImage({ kind: 'gt', stimulus: current.stimulus })}
      </div>
      <div className="aud-choices">
        <Button kind="tile" className="aud-choice" onClick={() => answer('left')} aria-label="left is closer">
          {source.renderImage(current.left)}
        </Button>
        <Button kind="tile" className="aud-choice" onClick={() => answer('right')} aria-label="right is closer">
          {source.renderImage(current.right)}
        </Button>
      </div>
      <p className="muted">Which reconstruction is closer to the ground truth? (← / →)</p>
    </section>
  );
}
