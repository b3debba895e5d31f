// The reconstruct panel: MIRAGE's reconstruction of the selected stimulus, every stage visible —
// low-level image, enhanced image, candidate grid with retrieval scores, the chosen reconstruction
// beside the ground truth, decoded vs true caption, the seed, all settings, and a vision-vs-imagery
// comparison. The work runs in workers/generate.worker.ts; this file only wires stores and views.
import { useCallback, useEffect, useRef, useState } from 'react';
import { MIRAGE_DEFAULTS, PIPELINE_STAGES, type GenerateSettings } from '../../core/generate/pipeline.ts';
import { useBundleStore, isSimulated, toAppError, type AppError } from '../../state/bundleStore.ts';
import { useSelectionStore } from '../../state/selectionStore.ts';
import { TensorImage } from '../common/TensorImage.tsx';
import type { DisplayImage, GenerateProgress, ReconstructReply, ServiceInfo } from './api.ts';
import { cancelReconstruction, defaultPack, ensureOpen, runReconstruction } from './client.ts';
import { SettingsPanel } from './SettingsPanel.tsx';
import './reconstruct.css';

declare global {
  interface Window {
    mirageReconstruct?: { last: () => ReconstructReply | null; info: () => ServiceInfo | null; busy: () => boolean };
  }
}

/** Draws a worker-made bitmap (no pixel loops on the main thread: drawImage only). */
export function BitmapCanvas(props: { image: DisplayImage; size?: number; label: string; className?: string }) {
  const { image, size = 160, label, className } = props;
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = ref.current;
    if (!c) return;
    c.width = image.bitmap.width;
    c.height = image.bitmap.height;
    c.getContext('2d')?.drawImage(image.bitmap, 0, 0);
  }, [image]);
  return <canvas ref={ref} className={`rc-img ${className ?? ''}`} style={{ width: size, height: size }} aria-label={label} title={`${label} (${image.width}x${image.height})`} />;
}

function Figure(props: { label: string; children: React.ReactNode; note?: string }) {
  return (
    <figure className="rc-fig">
      {props.children}
      <figcaption>
        {props.label}
        {props.note ? <span className="rc-note"> {props.note}</span> : null}
      </figcaption>
    </figure>
  );
}

function ProgressBar({ p }: { p: GenerateProgress | null }) {
  if (!p) return null;
  const frac = (p.stageIndex + (p.total ? p.step / p.total : 0)) / p.stageCount;
  return (
    <div className="rc-progress" role="progressbar" aria-valuenow={Math.round(frac * 100)} aria-valuemin={0} aria-valuemax={100}>
      <div className="rc-progress__bar" style={{ width: `${(frac * 100).toFixed(1)}%` }} />
      <span>
        {p.stage} {p.step}/{p.total} (stage {p.stageIndex + 1} of {p.stageCount})
      </span>
    </div>
  );
}

function Timings({ t }: { t: ReconstructReply['timings'] }) {
  const total = PIPELINE_STAGES.reduce((a, s) => a + t[s], 0);
  return (
    <table className="rc-timings">
      <caption>time per stage (this run, this browser)</caption>
      <tbody>
        {PIPELINE_STAGES.map((s) => (
          <tr key={s}>
            <td>{s}</td>
            <td>{t[s].toFixed(0)} ms</td>
          </tr>
        ))}
        <tr>
          <td>total</td>
          <td>{total.toFixed(0)} ms</td>
        </tr>
      </tbody>
    </table>
  );
}

function Result({ r, gt, title }: { r: ReconstructReply; gt: React.ReactNode; title?: string }) {
  return (
    <section className="rc-result" data-testid="rc-result">
      {title ? <h3>{title}</h3> : null}
      <div className="rc-row">
        {r.lowLevel ? (
          <Figure label="low-level image" note={`${r.lowLevel.width}x${r.lowLevel.height}`}>
            <BitmapCanvas image={r.lowLevel} label="low-level image" size={128} />
          </Figure>
        ) : null}
        {r.enhanced ? (
          <Figure label="enhanced" note={`Lanczos ${r.enhanced.width}px, sharpness x${r.settings.enhance.sharpness}, contrast x${r.settings.enhance.contrast}`}>
            <BitmapCanvas image={r.enhanced} label="enhanced low-level image" size={128} />
          </Figure>
        ) : null}
        <Figure label="chosen reconstruction" note={`candidate ${r.best}, score ${r.scores[r.best].toFixed(3)}`}>
          <BitmapCanvas image={r.candidates[r.best]} label="chosen reconstruction" size={192} className="rc-best" />
        </Figure>
        <Figure label="ground truth">{gt}</Figure>
      </div>
      {Object.keys(r.stageFallbacks).length ? (
        <p className="rc-note" data-testid="rc-stage-fallbacks">
          On wasm although WebGPU was chosen: {Object.entries(r.stageFallbacks).map(([k, v]) => `${k} (${v})`).join('; ')}
        </p>
      ) : null}
      <dl className="rc-captions">
        <dt>decoded caption</dt>
        <dd data-testid="rc-caption">{r.caption || '(empty)'}</dd>
        <dt>true caption</dt>
        <dd>{r.trueCaption}</dd>
        <dt>seed</dt>
        <dd>{r.settings.seed}</dd>
        <dt>decoded features</dt>
        <dd>{r.decoding}</dd>
      </dl>
      <h4>candidates (retrieval score = cosine of encoded hidden states to the decoded retrieval embedding)</h4>
      <div className="rc-grid">
        {r.candidates.map((c, k) => (
          <figure key={k} className={`rc-cand ${k === r.best ? 'rc-cand--best' : ''}`}>
            <BitmapCanvas image={c} label={`candidate ${k}`} size={96} />
            <figcaption>
              #{k} {r.scores[k].toFixed(3)}
            </figcaption>
          </figure>
        ))}
      </div>
      <Timings t={r.timings} />
    </section>
  );
}

export function ReconstructPanel() {
  const manifest = useBundleStore((s) => s.manifest);
  const location = useBundleStore((s) => s.location);
  const subject = useSelectionStore((s) => s.subject);
  const stimulus = useSelectionStore((s) => s.stimulus);
  const condition = useSelectionStore((s) => s.condition);
  const [settings, setSettings] = useState<GenerateSettings>(MIRAGE_DEFAULTS);
  const [preferWebgpu, setPreferWebgpu] = useState(true);
  const [info, setInfo] = useState<ServiceInfo | null>(null);
  const [loadMsg, setLoadMsg] = useState<string | null>(null);
  const [progress, setProgress] = useState<GenerateProgress | null>(null);
  const [live, setLive] = useState<{ low: DisplayImage; enhanced: DisplayImage } | null>(null);
  const [result, setResult] = useState<ReconstructReply | null>(null);
  const [compare, setCompare] = useState<{ vision: ReconstructReply | null; imagery: ReconstructReply | null } | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const lastRef = useRef<ReconstructReply | null>(null);

  useEffect(() => {
    window.mirageReconstruct = { last: () => lastRef.current, info: () => info, busy: () => busy };
  }, [info, busy]);

  const open = useCallback(async () => {
    if (!location) throw new Error('no bundle open');
    const i = await ensureOpen(location, defaultPack(location), preferWebgpu, (l, t, f) => setLoadMsg(`loading model pack: ${f} ${((100 * l) / Math.max(1, t)).toFixed(0)}%`));
    setInfo(i);
    setLoadMsg(null);
    return i;
  }, [location, preferWebgpu]);

  useEffect(() => {
    if (!location) return;
    open().catch((e: unknown) => setError(toAppError('opening the model pack', e)));
  }, [location, open]);

  const run = useCallback(
    async (cond: 'vision' | 'imagery') => {
      if (subject === null || stimulus === null) throw new Error('select a subject and a stimulus first');
      await open();
      setLive(null);
      setProgress(null);
      const r = await runReconstruction({ subject, stimulus, condition: cond, settings }, setProgress, (low, enhanced) => setLive({ low, enhanced }));
      lastRef.current = r;
      return r;
    },
    [open, subject, stimulus, settings],
  );

  const go = useCallback(async () => {
    setBusy(true);
    setError(null);
    setCompare(null);
    try {
      setResult(await run(condition));
    } catch (e) {
      setError(toAppError(`reconstructing stimulus ${stimulus} (${condition})`, e));
    } finally {
      setBusy(false);
      setProgress(null);
    }
  }, [run, condition, stimulus]);

  const goCompare = useCallback(async () => {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const vision = await run('vision');
      setCompare({ vision, imagery: null });
      const imagery = await run('imagery');
      setCompare({ vision, imagery });
    } catch (e) {
      setError(toAppError(`comparing vision and imagery of stimulus ${stimulus}`, e));
    } finally {
      setBusy(false);
      setProgress(null);
    }
  }, [run, stimulus]);

  if (!manifest || !location) return <p className="rc-empty">Open a bundle to reconstruct.</p>;
  const stim = manifest.stimuli.find((s) => s.id === stimulus);
  const simulated = isSimulated(manifest) || info?.packKind === 'simulated';
  const gt = stim?.image ? <TensorImage tensor={stim.image} size={192} label="ground truth" /> : <p className="rc-note">no single ground-truth image (conceptual stimulus)</p>;

  return (
    <div className="rc-panel" data-testid="reconstruct-panel">
      <header className="rc-head">
        <h2>Reconstruction</h2>
        {info ? (
          <span className={`badge badge--${info.executionProvider}`} data-testid="rc-ep" title={info.fallbackReason ?? 'ONNX Runtime Web, WebGPU execution provider'}>
            {info.executionProvider === 'webgpu' ? 'WebGPU' : 'wasm (fallback)'}
          </span>
        ) : null}
        {info?.executionProvider === 'wasm' && info.fallbackReason ? <span className="rc-note">WebGPU unavailable: {info.fallbackReason}</span> : null}
        {simulated ? <span className="badge rc-sim">SIMULATED</span> : null}
        {info ? <span className="rc-note">model pack: {info.packName} ({info.packKind})</span> : null}
      </header>
      <p className="rc-note">
        Subject {subject ?? '–'}, stimulus {stim ? `${stim.id} "${stim.name}"` : '–'}, {condition}. MIRAGE (REFERENCE §4): low-level image → enhancement → img2img prior at strength{' '}
        {settings.strength} → decoder → {settings.candidates} candidates → retrieval pooling; caption from the prompt features.
      </p>
      <div className="rc-actions">
        <button type="button" onClick={go} disabled={busy || subject === null || stimulus === null} data-testid="rc-run">
          Reconstruct ({condition})
        </button>
        <button type="button" onClick={goCompare} disabled={busy || subject === null || stimulus === null}>
          Compare vision vs imagery
        </button>
        <button type="button" onClick={() => void cancelReconstruction()} disabled={!busy} data-testid="rc-cancel">
          Cancel
        </button>
        <label>
          <input type="checkbox" checked={preferWebgpu} onChange={(e) => setPreferWebgpu(e.target.checked)} /> prefer WebGPU
        </label>
      </div>
      {loadMsg ? <p className="rc-note">{loadMsg}</p> : null}
      <ProgressBar p={busy ? progress : null} />
      {error ? (
        <div className="rc-error" role="alert">
          {error.context}: {error.message}
          {error.file ? ` (${error.file}${error.field ? `, ${error.field}` : ''})` : ''}
        </div>
      ) : null}
      <SettingsPanel value={settings} onChange={setSettings} disabled={busy} />
      {busy && live ? (
        <div className="rc-row">
          <Figure label="low-level image (live)">
            <BitmapCanvas image={live.low} label="low-level image" size={128} />
          </Figure>
          <Figure label="enhanced (live)">
            <BitmapCanvas image={live.enhanced} label="enhanced" size={128} />
          </Figure>
        </div>
      ) : null}
      {result ? <Result r={result} gt={gt} /> : null}
      {compare ? (
        <div className="rc-compare" data-testid="rc-compare">
          {compare.vision ? <Result r={compare.vision} gt={gt} title="vision" /> : null}
          {compare.imagery ? <Result r={compare.imagery} gt={gt} title="imagery" /> : <p className="rc-note">imagery: running…</p>}
        </div>
      ) : null}
    </div>
  );
}

export default ReconstructPanel;
