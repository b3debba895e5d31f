// Page-side client of workers/generate.worker.ts: one worker per page, opened on the bundle the app
// has open and on its model pack (by default the folder "modelpack/" next to the bundle's manifest).
// Used by the reconstruct panel and by the cortex panel (reconstruction from a perturbed state:
// see reconstructPerturbed below and the documentation in api.ts).
import { proxy, transfer, wrap, type Remote } from 'comlink';
import type { BundleLocation } from '../../state/bundleStore.ts';
import { useGenerateDeviceStore, type GenerateDevice } from '../../state/generateDeviceStore.ts';
import { ReconstructionQueue, type RunOwner } from './runQueue.ts';
import { headDeltaBuffers, type DisplayImage, type GenerateProgress, type GenerateWorkerApi, type PackFileProgress, type PackSourceSpec, type PrecisionSetting, type ReconstructReply, type ReconstructRequest, type ServiceInfo } from '../../core/generate/protocol.ts';
import { usePackSettings } from './packSettings.ts';

let worker: Worker | null = null;
let remote: Remote<GenerateWorkerApi> | null = null;
let openKey: string | null = null;
let opening: Promise<ServiceInfo> | null = null;

export function generateClient(): Remote<GenerateWorkerApi> {
  if (!remote) {
    worker = new Worker(new URL('../../../workers/generate.worker.ts', import.meta.url), { type: 'module', name: 'mirage-generate' });
    remote = wrap<GenerateWorkerApi>(worker);
  }
  return remote;
}

/** The pack location for a bundle: `?pack=URL` when given, else the bundle's "modelpack/" sub-folder. */
export function defaultPack(location: BundleLocation): PackSourceSpec {
  const packUrl = usePackSettings.getState().packUrl;
  if (packUrl) return { kind: 'url', url: packUrl };
  if (location.kind === 'url') return { kind: 'url', url: `${location.url.replace(/\/?(manifest\.json)?$/, '')}/modelpack/` };
  return { kind: 'files', prefix: 'modelpack/', files: location.files };
}

/** The worker's state as the page sees it (an external store: React reads it with useSyncExternalStore). */
export interface ServiceState {
  info: ServiceInfo | null;
  /** "loading model pack…" while opening (with `load` once bytes arrive). */
  loading: string | null;
  /** Byte progress of the pack's files while opening: the file being read and the total. */
  load: PackFileProgress | null;
  /** Why opening failed. */
  error: unknown;
}

let serviceState: ServiceState = { info: null, loading: null, load: null, error: null };
const serviceListeners = new Set<() => void>();
function setServiceState(patch: Partial<ServiceState>): void {
  serviceState = { ...serviceState, ...patch };
  serviceListeners.forEach((l) => l());
}

export const serviceStore = {
  get: (): ServiceState => serviceState,
  subscribe(listener: () => void): () => void {
    serviceListeners.add(listener);
    return () => serviceListeners.delete(listener);
  },
};

/**
 * Opens bundle + pack in the worker unless it already has them, on `device` (default: the page's
 * choice, state/generateDeviceStore.ts); the outcome also goes to serviceStore.
 */
export function ensureOpen(
  location: BundleLocation,
  pack: PackSourceSpec = defaultPack(location),
  device: GenerateDevice = useGenerateDeviceStore.getState().device,
  onProgress?: (p: PackFileProgress) => void,
  precision: PrecisionSetting = usePackSettings.getState().precision,
): Promise<ServiceInfo> {
  const key = `${location.kind === 'url' ? location.url : location.label}|${pack.kind === 'url' ? pack.url : pack.prefix}|${device}|${precision}`;
  if (key === openKey && opening) return opening;
  openKey = key;
  const bundle = location.kind === 'url' ? { kind: 'url' as const, url: location.url } : { kind: 'files' as const, label: location.label, files: location.files };
  setServiceState({ info: null, error: null, loading: 'loading model pack…', load: null });
  const p = generateClient().open(
    bundle,
    pack,
    device !== 'wasm',
    proxy((progress: PackFileProgress) => {
      // progress rides its own port and may land after the reply: ignored once this open is settled
      if (openKey === key && opening === p && serviceState.loading) setServiceState({ load: progress });
      onProgress?.(progress);
    }),
    device === 'webgpu' ? 'webgpu' : 'fastest',
    precision,
  );
  opening = p;
  p.then(
    (info) => {
      if (openKey === key) setServiceState({ info, loading: null, load: null, error: null });
    },
    (error: unknown) => {
      if (openKey !== key) return;
      openKey = null;
      opening = null;
      setServiceState({ info: null, loading: null, load: null, error });
    },
  );
  return p;
}

/** Stops the pack download in progress (files and chunks already cached stay: the next open resumes). */
export function cancelOpen(): Promise<void> {
  return generateClient().cancelOpen();
}

interface QueuedRun {
  req: ReconstructRequest;
  onProgress?: (p: GenerateProgress) => void;
  onLowLevel?: (low: DisplayImage, enhanced: DisplayImage) => void;
}

/** One job in the worker at a time (runQueue.ts): the set run, manual runs and the cortex panel do not cancel each other. */
const queue = new ReconstructionQueue<QueuedRun, ReconstructReply>(
  ({ req, onProgress, onLowLevel }) => generateClient().reconstruct(transfer(req, headDeltaBuffers(req)), onProgress && proxy(onProgress), onLowLevel && proxy(onLowLevel)),
  () => generateClient().cancel(),
);

/**
 * Runs one reconstruction in the worker once the jobs queued before it are done; a later call of
 * the same `owner` cancels this one, other owners' calls wait their turn. The request's headDeltas
 * (if any) are transferred: the caller's Float32Arrays are detached afterwards.
 */
export function runReconstruction(
  req: ReconstructRequest,
  onProgress?: (p: GenerateProgress) => void,
  onLowLevel?: (low: DisplayImage, enhanced: DisplayImage) => void,
  owner: RunOwner = 'manual',
): Promise<ReconstructReply> {
  return queue.submit(owner, { req, onProgress, onLowLevel });
}

/**
 * A full reconstruction from a perturbed state, for the cortex panel: opens the worker on the
 * bundle (and its default model pack) if needed, then reconstructs `req` (with headDeltas and
 * deltaLabel). See api.ts for the units of the deltas.
 */
export async function reconstructPerturbed(location: BundleLocation, req: ReconstructRequest, opts: { device?: GenerateDevice; onProgress?: (p: GenerateProgress) => void } = {}): Promise<ReconstructReply> {
  await ensureOpen(location, defaultPack(location), opts.device);
  return runReconstruction(req, opts.onProgress, undefined, 'cortex');
}

/** Cancels `owner`'s reconstruction (running or waiting); the others' go on. */
export function cancelReconstruction(owner: RunOwner = 'manual'): void {
  queue.cancel(owner);
}
