// Page entry: opens the bundle named by ?bundle=URL (default: the demo), keeps the selection in the
// URL, and renders the app. Uncaught errors go to the page's error banner, not only the console.
// The first load is split into shorter main-thread tasks (issue 17: one 94-162 ms task evaluated
// the app and rendered it): the first render is a transition (React renders it in 5 ms slices) and
// the workers are created in tasks of their own. (The app is not imported dynamically: on the dev
// server a dependency first met in a dynamic import re-optimises Vite's deps and that import fails
// with "504 Outdated Optimize Dep", leaving a blank page when HMR cannot reload it.)
import { StrictMode, startTransition } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App.tsx';
import { defaultBundleUrl, openBundle, startBackend } from './app/actions.ts';
import { ErrorBoundary } from './app/shell/ErrorBoundary.tsx';
import { installTestHooks } from './app/testHooks.ts';
import { useErrorStore } from './state/errorStore.ts';
import { bundleUrlFromParams, startUrlSync } from './state/url.ts';
import './app/styles.css';

window.addEventListener('unhandledrejection', (e) => useErrorStore.getState().report('running a background task', e.reason));
window.addEventListener('error', (e) => useErrorStore.getState().report('running the page', e.error ?? e.message));

startUrlSync();
installTestHooks();
// The backend (shader compilation, wasm download) starts while the bundle streams in, each in a task of its own.
setTimeout(() => void startBackend(), 0);
const requested = bundleUrlFromParams(new URLSearchParams(window.location.search));
setTimeout(() => void openBundle({ kind: 'url', url: requested ? new URL(requested, window.location.href).href : defaultBundleUrl() }), 0);

const root = createRoot(document.getElementById('root')!);
startTransition(() =>
  root.render(
    <StrictMode>
      <ErrorBoundary area="MIRAGE Explorer">
        <App />
      </ErrorBoundary>
    </StrictMode>,
  ),
);
