// Page-side client of workers/generate.worker.ts: one worker per page, opened on the bundle the app
// has open and on its model pack (by default the folder "modelpack/" next to the bundle's manifest).
import { proxy, wrap, type Remote } from 'comlink';
import type { BundleLocation } from '../../state/bundleStore.ts';
import type { DisplayImage, GenerateProgress, GenerateWorkerApi, PackSourceSpec, ReconstructReply, ReconstructRequest, ServiceInfo } from './api.ts';

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

/** The default pack location for a bundle: its "modelpack/" sub-folder. */
export function defaultPack(location: BundleLocation): PackSourceSpec {
  if (location.kind === 'url') return { kind: 'url', url: `${location.url.replace(/\/?(manifest\.json)?$/, '')}/modelpack/` };
  return { kind: 'files', prefix: 'modelpack/', files: location.files };
}

/** Opens bundle + pack in the worker unless it already has them. */
export function ensureOpen(location: BundleLocation, pack: PackSourceSpec, preferWebgpu: boolean, onProgress: (loaded: number, total: number, file: string) => void): Promise<ServiceInfo> {
  const key = `${location.kind === 'url' ? location.url : location.label}|${pack.kind === 'url' ? pack.url : pack.prefix}|${preferWebgpu}`;
  if (key === openKey && opening) return opening;
  openKey = key;
  const bundle = location.kind === 'url' ? { kind: 'url' as const, url: location.url } : { kind: 'files' as const, label: location.label, files: location.files };
  opening = generateClient().open(bundle, pack, preferWebgpu, proxy(onProgress));
  opening.catch(() => {
    if (openKey === key) openKey = null;
  });
  return opening;
}

export function runReconstruction(req: ReconstructRequest, onProgress: (p: GenerateProgress) => void, onLowLevel: (low: DisplayImage, enhanced: DisplayImage) => void): Promise<ReconstructReply> {
  return generateClient().reconstruct(req, proxy(onProgress), proxy(onLowLevel));
}

export function cancelReconstruction(): Promise<void> {
  return generateClient().cancel();
}
