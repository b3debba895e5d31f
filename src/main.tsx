// Page entry: opens the bundle named by ?bundle=URL (default: the demo), keeps the selection in the
// URL, and renders the app. Uncaught errors go to the page's error banner, not only the console.
import { StrictMode } from 'react';
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
// The backend (shader compilation, wasm download) starts while the bundle streams in.
void startBackend();
const requested = bundleUrlFromParams(new URLSearchParams(window.location.search));
void openBundle({ kind: 'url', url: requested ? new URL(requested, window.location.href).href : defaultBundleUrl() });

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ErrorBoundary area="MIRAGE Explorer">
      <App />
    </ErrorBoundary>
  </StrictMode>,
);
