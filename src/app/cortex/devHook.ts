// `window.mirageCortex` for browser tests and the devtools console, installed only by the dev
// server's build: index.tsx calls it under `import.meta.env.DEV`, which Vite replaces with false in
// production, so the bundler drops this module and the name never reaches dist/. It exposes and
// computes nothing of its own: the tests compute their references from the worker's replies.
import { useCortexStore } from '../../state/cortexStore.ts';
import type { CortexUpdateWithLowLevel } from '../../core/cortex/protocol.ts';
import { cortexClient } from './client.ts';

declare global {
  interface Window {
    mirageCortex?: {
      client: typeof cortexClient;
      store: typeof useCortexStore;
      /** The latest update the panel holds. */
      update: () => CortexUpdateWithLowLevel | null;
    };
  }
}

export function installCortexDevHook(): void {
  window.mirageCortex = { client: cortexClient, store: useCortexStore, update: () => useCortexStore.getState().update };
}
