// `window.mirage`: the stores and the decode worker client, for browser tests and for poking at a
// bundle from the devtools console on the dev server. Read-only use is the point; nothing here
// computes. Production builds leave it out: Vite replaces `import.meta.env.DEV` with false there and
// the assignment is dropped as dead code (the cortex panel's window.mirageCortex follows the same rule).
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
  if (import.meta.env.DEV) window.mirage = { bundle: useBundleStore, selection: useSelectionStore, decode: useDecodeStore, selectors, client: decodeClient };
}
