// Selection <-> page URL. Each part of the app that wants its state in the URL registers a codec
// (read: URL -> its store, write: its store -> URL, subscribe: when to rewrite); `startUrlSync`
// applies them all at start-up and keeps the address bar current with history.replaceState.
// The selection's own codec is here; other panels (cortex: surface, lesions, ...) add theirs.
import { DEFAULT_SELECTION, useSelectionStore, type Selection, type ViewTab } from './selectionStore.ts';

export interface UrlCodec {
  /** Query keys this codec owns (checked for clashes). */
  readonly keys: readonly string[];
  read(params: URLSearchParams): void;
  write(params: URLSearchParams): void;
  subscribe(onChange: () => void): () => void;
}

const TABS: readonly ViewTab[] = ['trial', 'reconstruct', 'evaluate'];

function int(params: URLSearchParams, key: string, min = 0): number | undefined {
  const v = params.get(key);
  if (v === null || !/^-?\d+$/.test(v)) return undefined;
  const n = Number(v);
  return n >= min ? n : undefined;
}

/** The selection fields present (and well-formed) in the query; malformed values are ignored. */
export function selectionFromParams(params: URLSearchParams): Partial<Selection> {
  const out: Partial<Selection> = {};
  const subject = int(params, 'subj', 1);
  if (subject !== undefined) out.subject = subject;
  const stimulus = int(params, 'stim', 0);
  if (stimulus !== undefined) out.stimulus = stimulus;
  const cond = params.get('cond');
  if (cond === 'vision' || cond === 'imagery') out.condition = cond;
  const trial = int(params, 'trial', 0);
  if (trial !== undefined) out.trial = trial;
  const repeats = int(params, 'rep', 1);
  if (repeats !== undefined) out.repeats = repeats;
  const norm = params.get('norm');
  if (norm === '1') out.normalize = true;
  else if (norm === '0') out.normalize = false;
  const tab = params.get('tab');
  if (tab && (TABS as readonly string[]).includes(tab)) out.tab = tab as ViewTab;
  return out;
}

/** Writes the selection into `params`, leaving out values equal to the defaults. */
export function selectionToParams(sel: Selection, params: URLSearchParams): void {
  const put = (key: string, value: string | number | null, dflt: string | number | null) => {
    if (value === null || value === dflt) params.delete(key);
    else params.set(key, String(value));
  };
  put('subj', sel.subject, DEFAULT_SELECTION.subject);
  put('stim', sel.stimulus, DEFAULT_SELECTION.stimulus);
  put('cond', sel.condition, DEFAULT_SELECTION.condition);
  put('trial', sel.trial, DEFAULT_SELECTION.trial);
  put('rep', sel.repeats, DEFAULT_SELECTION.repeats);
  put('norm', sel.normalize ? 1 : 0, DEFAULT_SELECTION.normalize ? 1 : 0);
  put('tab', sel.tab, DEFAULT_SELECTION.tab);
}

export const selectionCodec: UrlCodec = {
  keys: ['subj', 'stim', 'cond', 'trial', 'rep', 'norm', 'tab'],
  read(params) {
    useSelectionStore.getState().set(selectionFromParams(params));
  },
  write(params) {
    selectionToParams(useSelectionStore.getState(), params);
  },
  subscribe(onChange) {
    return useSelectionStore.subscribe(onChange);
  },
};

const codecs: UrlCodec[] = [selectionCodec];

/** Adds a codec (call at module load of the panel that owns the state). */
export function registerUrlCodec(codec: UrlCodec): void {
  for (const key of codec.keys) {
    if (key === 'bundle' || codecs.some((c) => c.keys.includes(key))) {
      throw new Error(`URL key "${key}" is already used by another codec`);
    }
  }
  codecs.push(codec);
  if (started) {
    codec.read(new URLSearchParams(window.location.search));
    codec.subscribe(scheduleWrite);
  }
}

/** The bundle the URL asks for (`?bundle=URL`), or null for the default (the demo). */
export function bundleUrlFromParams(params: URLSearchParams): string | null {
  const v = params.get('bundle');
  return v && v.trim() ? v.trim() : null;
}

let started = false;
let pending = false;

function writeNow(): void {
  pending = false;
  const params = new URLSearchParams(window.location.search);
  for (const c of codecs) c.write(params);
  const query = params.toString();
  const next = `${window.location.pathname}${query ? `?${query}` : ''}${window.location.hash}`;
  if (next !== `${window.location.pathname}${window.location.search}${window.location.hash}`) {
    window.history.replaceState(null, '', next);
  }
}

function scheduleWrite(): void {
  if (pending) return;
  pending = true;
  queueMicrotask(writeNow);
}

/** Reads every codec from the current URL, then mirrors store changes back into it. */
export function startUrlSync(): () => void {
  const params = new URLSearchParams(window.location.search);
  for (const c of codecs) c.read(params);
  started = true;
  const unsubs = codecs.map((c) => c.subscribe(scheduleWrite));
  return () => {
    started = false;
    for (const u of unsubs) u();
  };
}
