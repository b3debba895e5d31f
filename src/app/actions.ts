// What the page does in response to the user: open a bundle, start a backend, decode the selection.
// Each action calls the decode worker and writes what it says into the stores; nothing here computes.
import { useBundleStore, toAppError, type BundleLocation } from '../state/bundleStore.ts';
import { useDecodeStore, type DecodeEntry } from '../state/decodeStore.ts';
import { useSelectionStore } from '../state/selectionStore.ts';
import { decodeKey, decodedSubjects, resolveSelection } from '../state/selectors.ts';
import { decodeClient, openBundleInWorker } from './workers.ts';
import type { BackendName } from '../core/decode/protocol.ts';

export const BACKEND_ORDER: BackendName[] = ['webgpu', 'wasm', 'cpu', 'js'];

/** The demo bundle shipped with the app (built by `mirage demo --out public/demo`). */
export function defaultBundleUrl(): string {
  return new URL(`${import.meta.env.BASE_URL}demo/`, window.location.href).href;
}

/** Opens a bundle (URL or picked files) and selects its first decoded subject. */
export async function openBundle(location: BundleLocation): Promise<boolean> {
  const bundle = useBundleStore.getState();
  const id = bundle.startLoading(location);
  useDecodeStore.getState().clear();
  try {
    const manifest = await openBundleInWorker(
      location.kind === 'url'
        ? { kind: 'url', url: location.url }
        : { kind: 'files', label: location.label, files: location.files },
      (p) => useBundleStore.getState().setProgress(id, p),
    );
    const sel = useSelectionStore.getState();
    const subjects = decodedSubjects(manifest);
    if (!subjects.some((s) => s.id === sel.subject)) sel.set({ subject: subjects[0]?.id ?? null, trial: null });
    if (!manifest.stimuli.some((s) => s.id === sel.stimulus)) sel.set({ stimulus: manifest.stimuli[0]?.id ?? null, trial: null });
    useBundleStore.getState().setReady(id, manifest);
    return true;
  } catch (e) {
    useBundleStore.getState().setError(id, toAppError('opening the bundle', e));
    return false;
  }
}

export async function startBackend(): Promise<void> {
  const dec = useDecodeStore.getState();
  if (dec.backendStatus === 'starting' || dec.backendStatus === 'ready') return;
  dec.setBackend({ backendStatus: 'starting', backendError: null });
  try {
    const name = await decodeClient().initBackend(BACKEND_ORDER);
    useDecodeStore.getState().setBackend({ backend: name, backendStatus: 'ready' });
  } catch (e) {
    useDecodeStore.getState().setBackend({ backendStatus: 'error', backendError: toAppError('starting a decoding backend', e) });
  }
}

/** Decodes the current selection with every head of the subject, then identifies its image embedding. */
export async function decodeSelection(): Promise<void> {
  const manifest = useBundleStore.getState().manifest;
  if (!manifest) return;
  const sel = useSelectionStore.getState();
  const r = resolveSelection(manifest, sel);
  if (!r) return;
  const normalize = sel.normalize;
  const key = decodeKey(r, normalize);
  const dec = useDecodeStore.getState();
  if (dec.pendingKey === key || (dec.status === 'done' && dec.current?.key === key)) return;
  dec.start(key);
  try {
    const subject = manifest.subjects.find((s) => s.id === r.subject)!;
    const heads = subject.heads.map((h) => h.name);
    const client = decodeClient();
    // With normalisation the worker decodes the condition's whole batch and returns this stimulus's
    // normalised row; identification below then uses the normalised image embedding.
    const response = await client.decode({
      subject: r.subject,
      trials: r.trials,
      heads,
      average: r.average,
      ...(normalize ? { normalize: { stimulus: r.stimulus, condition: r.condition } } : {}),
    });
    const image = response.predictions.image;
    let identifyStimuli = null;
    let identifyGallery = null;
    if (image) {
      const query = image.values.slice(0, image.values.length / image.rows);
      if (manifest.features.some((f) => f.name === 'stimuli' && f.head === 'image')) {
        identifyStimuli = await client.identify({ query, head: 'image', set: 'stimuli' });
      }
      if (manifest.features.some((f) => f.name === 'gallery' && f.head === 'image')) {
        identifyGallery = await client.identify({ query, head: 'image', set: 'gallery' });
      }
    }
    const entry: DecodeEntry = {
      key,
      subject: r.subject,
      stimulus: r.stimulus,
      condition: r.condition,
      response,
      identifyStimuli,
      identifyGallery,
    };
    useDecodeStore.getState().finish(entry);
    useDecodeStore.getState().setBackend({ backend: response.backend, backendStatus: 'ready' });
  } catch (e) {
    useDecodeStore.getState().fail(key, toAppError(`decoding trial${r.trials.length > 1 ? 's' : ''} ${r.trials.join(', ')}`, e));
  }
}
