// The "audience" mode: MIRAGE Experiment 1 (two-alternative forced choice) run in the room. Trials,
// scoring (Wilson 95% intervals) and the CSV come from src/core/evaluate/audience.ts; answers stay
// in this page's memory and leave it only through the CSV download.
import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { AudienceAnswer, AudienceCandidate, AudienceImage } from '../../core/evaluate/audience.ts';
import { audienceCsv, buildAudienceTrials, scoreAudience } from '../../core/evaluate/audience.ts';
import { PUBLISHED_HUMAN_2AFC } from '../../core/evaluate/published.ts';
import { parseReconFileName } from '../../core/evaluate/runEval.ts';
import { downloadText } from './exportFiles.ts';

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

export function AudienceMode(props: { source?: AudienceSource }) {
  const [local, setLocal] = useState<AudienceSource | null>(null);
  const [error, setError] = useState<string | null>(null);
  const source = props.source ?? local;
  const [seed, setSeed] = useState(1);
  const [perCell, setPerCell] = useState(6);
  const [started, setStarted] = useState(false);
  const [answers, setAnswers] = useState<AudienceAnswer[]>([]);
  const shownAt = useRef(0);
  const trials = useMemo(() => (source ? buildAudienceTrials(source.candidates, { seed, perCell }) : []), [source, seed, perCell]);
  const current = started ? trials[answers.length] : undefined;
  const finished = started && answers.length >= trials.length;

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

  if (!source) {
    return (
      <section className="aud">
        <h3>Audience mode (2AFC)</h3>
        <p className="muted">
          Choose a folder with ground truths <code>gt_&lt;stimulus&gt;.png</code> and one sub-folder per method holding{' '}
          <code>&lt;subject&gt;_&lt;condition&gt;_&lt;stimulus&gt;_&lt;rep&gt;.png</code>. Files are read in this page only.
        </p>
        <input
          type="file"
          multiple
          // @ts-expect-error non-standard attribute for choosing a folder
          webkitdirectory=""
          onChange={(e) => {
            if (!e.target.files) return;
            const s = sourceFromFiles(e.target.files);
            if (typeof s === 'string') setError(s);
            else {
              setError(null);
              setLocal(s);
            }
          }}
        />
        {error && <p className="error">{error}</p>}
      </section>
    );
  }
  if (!started) {
    return (
      <section className="aud">
        <h3>Audience mode (2AFC)</h3>
        <p>
          Each trial shows a ground truth and two reconstructions by the same method; pick the one closer to the ground truth (← / → keys or
          click). {trials.length} trials, including attention checks where one option is the ground truth itself. Source: {source.label}.
        </p>
        <label>
          seed <input type="number" value={seed} onChange={(e) => setSeed(Number(e.target.value) || 1)} />
        </label>{' '}
        <label>
          trials per method × condition <input type="number" min={1} value={perCell} onChange={(e) => setPerCell(Math.max(1, Number(e.target.value) || 1))} />
        </label>{' '}
        <button
          type="button"
          disabled={!trials.length}
          onClick={() => {
            setAnswers([]);
            setStarted(true);
            shownAt.current = performance.now();
          }}
        >
          Start
        </button>
      </section>
    );
  }
  if (finished || !current) {
    const score = scoreAudience(trials, answers);
    return (
      <section className="aud">
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
        <button type="button" onClick={() => downloadText(audienceCsv(trials, answers), 'audience-2afc.csv')}>
          Export answers (CSV)
        </button>{' '}
        <button type="button" onClick={() => setStarted(false)}>
          New session
        </button>
      </section>
    );
  }
  return (
    <section className="aud" aria-live="polite">
      <div className="aud-progress">
        Trial {answers.length + 1} / {trials.length}
      </div>
      <div className="aud-gt">
        <div className="label">Ground truth</div>
        {source.renderImage({ kind: 'gt', stimulus: current.stimulus })}
      </div>
      <div className="aud-choices">
        <button type="button" className="aud-choice" onClick={() => answer('left')} aria-label="left is closer">
          {source.renderImage(current.left)}
        </button>
        <button type="button" className="aud-choice" onClick={() => answer('right')} aria-label="right is closer">
          {source.renderImage(current.right)}
        </button>
      </div>
      <p className="muted">Which reconstruction is closer to the ground truth? (← / →)</p>
    </section>
  );
}
