// The reconstruct panel: MIRAGE's reconstruction of the selected stimulus, every stage visible —
// low-level image, enhanced image, candidate grid with retrieval scores, the chosen reconstruction
// beside the ground truth, decoded vs true caption, the seed, all settings, and a vision-vs-imagery
// comparison. The work runs in workers/generate.worker.ts; this file only wires stores and views.
import { memo, startTransition, useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { Manifest } from '../../core/bundle/manifest.ts';
import { MIRAGE_DEFAULTS, PIPELINE_STAGES, type GenerateSettings } from '../../core/generate/pipeline.ts';
import { useBundleStore, isSimulated, toAppError, type AppError } from '../../state/bundleStore.ts';
import { useSelectionStore } from '../../state/selectionStore.ts';
import { GENERATE_DEVICES, GENERATE_DEVICE_LABELS, useGenerateDeviceStore, type GenerateDevice } from '../../state/generateDeviceStore.ts';
import { TensorImage } from '../common/TensorImage.tsx';
import type { DisplayImage, GenerateProgress, ReconstructReply, ServiceInfo } from '../../core/generate/protocol.ts';
import { cancelReconstruction, defaultPack, ensureOpen, runReconstruction, serviceStore } from './client.ts';
import { liveStore } from './liveStore.ts';
import { SettingsPanel } from './SettingsPanel.tsx';
import { sessionRecons } from './sessionRecons.ts';
import { Button, ProgressBar as Bar, Select } from '../common/controls.tsx';
import { OrtLog } from '../common/OrtLog.tsx';
import { PackDetails, packLabel, PackLoad, PrecisionSelect } from './PackPanel.tsx';
import { usePackSettings } from './packSettings.ts';
import './reconstruct.css';

declare global {
  interface Window {
    mirageReconstruct?: { last: () => ReconstructReply | null; info: () => ServiceInfo | null; busy: () => boolean };
  }
}

// Drawing a result's bitmaps (up to 16 candidates and more) in one React commit made one long task;
// the canvases are drawn from a queue instead, a few milliseconds of drawImage per task.
const drawQueue: { canvas: HTMLCanvasElement; bitmap: ImageBitmap }[] = [];
let drawScheduled = false;
const DRAW_BUDGET_MS = 6;

function drainDraws(): void {
  drawScheduled = false;
  const t0 = performance.now();
  while (drawQueue.length && performance.now() - t0 < DRAW_BUDGET_MS) {
    const { canvas, bitmap } = drawQueue.shift()!;
    if (!canvas.isConnected || !bitmap.width) continue; // unmounted, or a closed bitmap
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    // willReadFrequently: a CPU-backed canvas. An accelerated one makes each compositor commit produce
    // a GPU resource per canvas on the page's main thread (tens of ms under SwiftShader) for images
    // of at most DISPLAY_MAX px.
    canvas.getContext('2d', { willReadFrequently: true })?.drawImage(bitmap, 0, 0);
  }
  if (drawQueue.length) scheduleDrain();
}

function scheduleDrain(): void {
  if (drawScheduled) return;
  drawScheduled = true;
  setTimeout(drainDraws, 0);
}

/** Draws a worker-made bitmap (no pixel loops on the main thread: drawImage only, from a queue). */
export const BitmapCanvas = memo(function BitmapCanvas(props: { image: DisplayImage; size?: number; label: string; className?: string }) {
  const { image, size = 160, label, className } = props;
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = ref.current;
    if (!canvas) return;
    drawQueue.push({ canvas, bitmap: image.bitmap });
    scheduleDrain();
  }, [image]);
  return <canvas ref={ref} className={`rc-img ${className ?? ''}`} style={{ width: size, height: size }} aria-label={label} title={`${label} (${image.width}x${image.height})`} />;
});

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

/** The running stage's progress: reads liveStore, so a progress message re-renders only this bar (at most once a frame). */
function ProgressBar({ busy }: { busy: boolean }) {
  const p: GenerateProgress | null = useSyncExternalStore(liveStore.subscribe, () => liveStore.get().progress);
  // Between the click and the worker's first message (opening sessions on WebGPU can take seconds)
  // the bar says so instead of showing an empty strip.
  if (!p) return busy ? <Bar fraction={null} label="starting the pipeline in the generate worker…" testid="rc-progress" /> : null;
  const frac = (p.stageIndex + (p.total ? p.step / p.total : 0)) / p.stageCount;
  return <Bar fraction={frac} label={`${p.stage} ${p.step}/${p.total} (stage ${p.stageIndex + 1} of ${p.stageCount})`} testid="rc-progress" />;
}

/** The low-level and enhanced images while the rest of the pipeline runs (from liveStore). */
function LivePreview() {
  const live = useSyncExternalStore(liveStore.subscribe, () => liveStore.get().live);
  if (!live) return null;
  return (
    <div className="rc-row">
      <Figure label="low-level image (live)">
        <BitmapCanvas image={live.low} label="low-level image" size={128} />
      </Figure>
      <Figure label="enhanced (live)">
        <BitmapCanvas image={live.enhanced} label="enhanced" size={128} />
      </Figure>
    </div>
  );
}

function GroundTruth({ manifest, stimulus }: { manifest: Manifest; stimulus: number | null }) {
  const stim = manifest.stimuli.find((s) => s.id === stimulus);
  return stim?.image ? <TensorImage tensor={stim.image} size={192} label="ground truth" /> : <p className="rc-note">no single ground-truth image (conceptual stimulus)</p>;
}

const CandidateGrid = memo(function CandidateGrid({ candidates, scores, best }: { candidates: DisplayImage[]; scores: number[]; best: number }) {
  return (
    <div className="rc-grid">
      {candidates.map((c, k) => (
        <figure key={k} className={`rc-cand ${k === best ? 'rc-cand--best' : ''}`}>
          <BitmapCanvas image={c} label={`candidate ${k}`} size={96} />
          <figcaption>
            #{k} {scores[k].toFixed(3)}
          </figcaption>
        </figure>
      ))}
    </div>
  );
});

const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

function Timings({ t, r }: { t: ReconstructReply['timings']; r: ReconstructReply }) {
  const x = r.transfers;
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
        <tr data-testid="rc-transfers" title="ONNX Runtime tensors crossing between CPU and GPU in this run (counted by the pipeline)">
          <td>{r.sampler === 'graphs' ? 'sampler: ONNX step graphs' : 'sampler: TypeScript'}</td>
          <td>
            {x.gpuHandoffs} GPU hand-offs · {x.uploads} uploads ({kb(x.uploadBytes)}) · {x.downloads} downloads ({kb(x.downloadBytes)})
          </td>
        </tr>
      </tbody>
    </table>
  );
}

/** One reconstruction, every stage shown; memoised: re-renders only for a new reply. */
const Result = memo(function Result({ r, manifest, title }: { r: ReconstructReply; manifest: Manifest; title?: string }) {
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
        <Figure label="ground truth">
          <GroundTruth manifest={manifest} stimulus={r.request.stimulus} />
        </Figure>
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
        {r.perturbed ? (
          <>
            <dt>perturbed</dt>
            <dd data-testid="rc-perturbed">{r.perturbed}</dd>
          </>
        ) : null}
      </dl>
      <h4>candidates (retrieval score = cosine of encoded hidden states to the decoded retrieval embedding)</h4>
      <CandidateGrid candidates={r.candidates} scores={r.scores} best={r.best} />
      <Timings t={r.timings} r={r} />
    </section>
  );
});

/**
 * Where the stages run, and why: "WebGPU" (with the adapter when it is a CPU emulation), or "wasm"
 * with the reason — WebGPU missing or failing, or a CPU-emulated adapter left for wasm under
 * "fastest on this device", or wasm chosen.
 */
function ProviderBadge({ info, device }: { info: ServiceInfo; device: GenerateDevice }) {
  const emulated = info.adapter?.software ? ` · CPU emulation (${info.adapter.architecture || info.adapter.vendor || 'software adapter'})` : '';
  const text =
    info.executionProvider === 'webgpu' ? `WebGPU${emulated}` : device === 'wasm' ? 'wasm' : device === 'fastest' && info.adapter?.software ? 'wasm (fastest here)' : 'wasm (fallback)';
  return (
    <>
      <span className={`badge badge--${info.executionProvider}`} data-testid="rc-ep" data-ep={info.executionProvider} title={info.fallbackReason ?? 'ONNX Runtime Web, WebGPU execution provider'}>
        {text}
      </span>
      {info.executionProvider === 'wasm' && info.fallbackReason ? <span className="rc-note" data-testid="rc-ep-reason">{info.fallbackReason}</span> : null}
    </>
  );
}

/** A load the user cancelled (an AbortError from the worker) is not an error to show. */
function isCancelled(e: unknown): boolean {
  return e instanceof Error && e.name === 'AbortError';
}

export function ReconstructPanel() {
  const manifest = useBundleStore((s) => s.manifest);
  const location = useBundleStore((s) => s.location);
  const subject = useSelectionStore((s) => s.subject);
  const stimulus = useSelectionStore((s) => s.stimulus);
  const condition = useSelectionStore((s) => s.condition);
  const [settings, setSettings] = useState<GenerateSettings>(MIRAGE_DEFAULTS);
  const device = useGenerateDeviceStore((s) => s.device);
  const setDevice = useGenerateDeviceStore((s) => s.setDevice);
  const precision = usePackSettings((s) => s.precision);
  const packUrl = usePackSettings((s) => s.packUrl);
  const service = useSyncExternalStore(serviceStore.subscribe, serviceStore.get);
  const info = service.info;
  const [result, setResult] = useState<ReconstructReply | null>(null);
  const [compare, setCompare] = useState<{ vision: ReconstructReply | null; imagery: ReconstructReply | null } | null>(null);
  const [busy, setBusy] = useState(false);
  const [runError, setRunError] = useState<AppError | null>(null);
  const lastRef = useRef<ReconstructReply | null>(null);
  const error = runError ?? (service.error && !isCancelled(service.error) ? toAppError('opening the model pack', service.error) : null);

  useEffect(() => {
    window.mirageReconstruct = { last: () => lastRef.current, info: () => info, busy: () => busy };
  }, [info, busy]);

  // Open the worker on the bundle (the outcome lands in serviceStore, not in this component's state).
  useEffect(() => {
    if (location) ensureOpen(location, defaultPack(location), device).catch(() => {});
  }, [location, device, precision, packUrl]);

  const run = useCallback(
    async (cond: 'vision' | 'imagery') => {
      if (!location) throw new Error('no bundle open');
      if (subject === null || stimulus === null) throw new Error('select a subject and a stimulus first');
      await ensureOpen(location, defaultPack(location), device);
      liveStore.reset();
      // progress rides its own MessagePort and can land after the reply: ignored once the run is over
      let running = true;
      try {
        const r = await runReconstruction(
          { subject, stimulus, condition: cond, settings },
          (progress) => running && liveStore.update({ progress }),
          (low, enhanced) => running && liveStore.update({ live: { low, enhanced } }),
        );
        lastRef.current = r;
        sessionRecons.addReplies(r);
        return r;
      } finally {
        running = false;
        liveStore.reset();
      }
    },
    [location, device, subject, stimulus, settings],
  );

  const go = useCallback(async () => {
    setBusy(true);
    setRunError(null);
    setCompare(null);
    try {
      const r = await run(condition);
      // a transition: React renders the result in slices instead of one long task
      startTransition(() => setResult(r));
    } catch (e) {
      setRunError(toAppError(`reconstructing stimulus ${stimulus} (${condition})`, e));
    } finally {
      setBusy(false);
    }
  }, [run, condition, stimulus]);

  const goCompare = useCallback(async () => {
    setBusy(true);
    setRunError(null);
    setResult(null);
    try {
      const vision = await run('vision');
      startTransition(() => setCompare({ vision, imagery: null }));
      const imagery = await run('imagery');
      startTransition(() => setCompare({ vision, imagery }));
    } catch (e) {
      setRunError(toAppError(`comparing vision and imagery of stimulus ${stimulus}`, e));
    } finally {
      setBusy(false);
    }
  }, [run, stimulus]);

  if (!manifest || !location) return <p className="rc-empty">Open a bundle to reconstruct.</p>;
  const stim = manifest.stimuli.find((s) => s.id === stimulus);
  const simulated = isSimulated(manifest) || info?.packKind === 'simulated';

  return (
    <div className="rc-panel" data-testid="reconstruct-panel">
      <header className="rc-head">
        <h2>Reconstruction</h2>
        {info ? <ProviderBadge info={info} device={device} /> : null}
        {simulated ? <span className="badge rc-sim">SIMULATED</span> : null}
        {info ? <span className="rc-note">model pack: {packLabel(info.packName, info.packKind)}</span> : null}
      </header>
      <p className="rc-note">
        Subject {subject ?? '–'}, stimulus {stim ? `${stim.id} "${stim.name}"` : '–'}, {condition}. MIRAGE (Kneeland et al. 2026): low-level image → enhancement → img2img prior at strength{' '}
        {settings.strength} → decoder → {settings.candidates} candidates → retrieval pooling; caption from the prompt features.
      </p>
      <div className="rc-actions">
        <Button kind="primary" onClick={go} disabled={busy || subject === null || stimulus === null} data-testid="rc-run">
          Reconstruct ({condition})
        </Button>
        <Button onClick={goCompare} disabled={busy || subject === null || stimulus === null} data-testid="rc-compare-run">
          Compare vision vs imagery
        </Button>
        <Button onClick={() => void cancelReconstruction()} disabled={!busy} data-testid="rc-cancel">
          Cancel
        </Button>
        <label className="rc-inline" title="where the pipeline's stages run (?gen= in the URL)">
          run on{' '}
          <Select aria-label="run on" data-testid="rc-device" value={device} onChange={(e) => setDevice(e.target.value as GenerateDevice)} disabled={busy}>
            {GENERATE_DEVICES.map((d) => (
              <option key={d} value={d}>
                {GENERATE_DEVICE_LABELS[d]}
              </option>
            ))}
          </Select>
        </label>
        <PrecisionSelect disabled={busy} />
      </div>
      <PackLoad />
      {info ? <PackDetails info={info} /> : null}
      {isCancelled(service.error) ? (
        <p className="rc-note" data-testid="rc-load-cancelled">
          Loading the model pack was cancelled; the files already downloaded stay cached.{' '}
          <Button onClick={() => location && void ensureOpen(location, defaultPack(location), device).catch(() => {})} data-testid="rc-load-retry">
            Load again
          </Button>
        </p>
      ) : null}
      <ProgressBar busy={busy} />
      <OrtLog context="mirage-generate" />
      {error ? (
        <div className="rc-error" role="alert">
          {error.context}: {error.message}
          {error.file ? ` (${error.file}${error.field ? `, ${error.field}` : ''})` : ''}
        </div>
      ) : null}
      {/* one attribute disables every setting: the (memoised) settings panel does not re-render when a run starts */}
      <fieldset className="rc-lock" disabled={busy}>
        <SettingsPanel value={settings} onChange={setSettings} />
      </fieldset>
      <LivePreview />
      {result ? <Result r={result} manifest={manifest} /> : null}
      {compare ? (
        <div className="rc-compare" data-testid="rc-compare">
          {compare.vision ? <Result r={compare.vision} manifest={manifest} title="vision" /> : null}
          {compare.imagery ? <Result r={compare.imagery} manifest={manifest} title="imagery" /> : <p className="rc-note">imagery: running…</p>}
        </div>
      ) : null}
    </div>
  );
}

export default ReconstructPanel;
