// Page side of workers/evaluate.worker.ts: one worker per page; the hook that evaluates the open
// bundle (from the app's bundle store) with progress and cancel. No metric is computed here.
import { proxy, wrap, type Remote } from 'comlink';
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { useBundleStore, type BundleLocation } from '../../state/bundleStore.ts';
import type { BundleEvalResult, EvaluateRequest, EvaluateWorkerApi, SessionReconstruction } from '../../core/evaluate/protocol.ts';
import { sessionRecons } from '../reconstruct/sessionRecons.ts';

let remote: Remote<EvaluateWorkerApi> | null = null;

export function evaluateClient(): Remote<EvaluateWorkerApi> {
  if (!remote) {
    const worker = new Worker(new URL('../../../workers/evaluate.worker.ts', import.meta.url), { type: 'module', name: 'mirage-evaluate' });
    remote = wrap<EvaluateWorkerApi>(worker);
  }
  return remote;
}

export function requestFor(location: BundleLocation, size: number | undefined, session: SessionReconstruction[]): EvaluateRequest {
  const bundle = location.kind === 'url' ? { kind: 'url' as const, url: location.url } : { kind: 'files' as const, label: location.label, files: location.files };
  return { bundle, size, session };
}

/**
 * Every reconstruction the Reconstruction tab made in this page (both halves of a comparison, the
 * whole-stimulus-set run): reconstruct/sessionRecons.ts keeps them as RGB bytes.
 */
export function sessionReconstructions(): SessionReconstruction[] {
  return [...sessionRecons.list()];
}

/** The page's last finished evaluation and what it evaluated (one evaluate panel per page). */
let lastFinished: { key: string; result: BundleEvalResult } | null = null;

export type EvalStatus =
  | { kind: 'idle' }
  | { kind: 'running'; done: number; total: number; label: string }
  | { kind: 'done'; result: BundleEvalResult }
  | { kind: 'cancelled' }
  | { kind: 'error'; message: string };

/**
 * Evaluates the open bundle's reconstructions (and this session's) in the worker. Starts on its own
 * when `auto` and there is something to evaluate; `run()` restarts, `cancel()` stops.
 */
export function useBundleEvaluation(enabled: boolean, size: number | undefined) {
  const location = useBundleStore((s) => s.location);
  const manifest = useBundleStore((s) => s.manifest);
  const [status, setStatus] = useState<EvalStatus>({ kind: 'idle' });
  const [request, setRequest] = useState<EvaluateRequest | null>(null);
  const runId = useRef(0);
  const session = useRef<SessionReconstruction[]>([]);
  // a new session reconstruction (a comparison, the whole-set run) re-evaluates: it is part of the key
  const sessionList = useSyncExternalStore(sessionRecons.subscribe, sessionRecons.list, sessionRecons.list);
  const available = !!manifest && ((manifest.reconstructions?.length ?? 0) > 0 || sessionList.length > 0);

  // The store may hand in a new manifest object for the same bundle (e.g. after verification): that
  // must not restart a finished evaluation, so run() depends on the location and on a manifest being
  // there, not on the manifest object (the worker reads the bundle from the location itself).
  const hasManifest = !!manifest;
  // The request in flight. The automatic start does not restart an identical evaluation that is
  // already running (React's development double effect would otherwise start it twice: the first
  // run aborted on its way and the worker waiting for it); "Run" (force) always starts over.
  const inflight = useRef<string | null>(null);
  const start = useCallback((force: boolean) => {
    if (!location || !hasManifest) return;
    const made = [...sessionList];
    const key = `${location.kind === 'url' ? location.url : location.label}|${size ?? ''}|${made.map((r) => `${r.method}|${r.subject}/${r.condition}/${r.stimulus}/${r.repetition}`).join(',')}`;
    if (!force && inflight.current === key) return;
    session.current = made;
    const req = requestFor(location, size, session.current);
    // The same bundle, size and session reconstructions as the last finished evaluation: its result
    // stands (a store update or a remounted panel re-ran this effect and restarted a finished run).
    if (!force && lastFinished?.key === key) {
      setRequest(req);
      setStatus({ kind: 'done', result: lastFinished.result });
      return;
    }
    inflight.current = key;
    const id = ++runId.current;
    // Progress arrives on the callback's own MessagePort, the result on the worker's: the last
    // progress message can land after the result and turned a finished run back into "running".
    let over = false;
    const settled = () => {
      over = true;
      if (id === runId.current) inflight.current = null;
    };
    setRequest(req);
    setStatus({ kind: 'running', done: 0, total: 0, label: 'opening the bundle in the evaluate worker' });
    evaluateClient()
      .evaluate(
        req,
        proxy((done: number, total: number, label: string) => {
          if (id === runId.current && !over) setStatus({ kind: 'running', done, total, label });
        }),
      )
      .then(
        (result) => {
          settled();
          lastFinished = { key, result };
          if (id === runId.current) setStatus({ kind: 'done', result });
        },
        (e: unknown) => {
          settled();
          if (id !== runId.current) return;
          const err = e as { name?: string; message?: string; file?: string; field?: string };
          if (err?.name === 'AbortError' || /cancel/i.test(err?.message ?? '')) setStatus({ kind: 'cancelled' });
          else setStatus({ kind: 'error', message: [err?.message ?? String(e), err?.file && `file ${err.file}`, err?.field && `field ${err.field}`].filter(Boolean).join(' — ') });
        },
      );
  }, [location, hasManifest, size, sessionList]);
  const run = useCallback(() => start(true), [start]);

  const cancel = useCallback(() => {
    void evaluateClient().cancel();
  }, []);

  useEffect(() => {
    // a new bundle or size: results of the old one are void (run() starts over)
    if (enabled && available) start(false);
  }, [enabled, available, start]);

  return { status: enabled && available ? status : ({ kind: 'idle' } as EvalStatus), run, cancel, available, request, simulated: manifest?.provenance.kind === 'simulated' };
}
