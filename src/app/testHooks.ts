// `window.mirage`: the stores and the decode worker client, for browser tests and for poking at a
// bundle from the devtools console. Read-only use is the point; nothing here computes.
import { useBundleStore } from '../state/bundleStore.ts';
import { useDecodeStore } from '../state/decodeStore.ts';
import { useSelectionStore } from '../state/selectionStore.ts';
import * as selectors from '../state/selectors.ts';
import { decodeClient } from './workers.ts';

export interface MirageHooks {
  bundle: typeof useBundleStore;
  selection: typeof useSelectionStore;
  decode: typeof useDecodeStore;
  selectors: typeof selectors;
  client: typeof decodeClient;
}

declare global {
  interface Window {
    mirage?: MirageHooks;
  }
}

export function installTestHooks(): void {
  window.mirage = { bundle: useBundleStore, selection: useSelectionStore, decode: useDecodeStore, selectors, client: decodeClient };
}
