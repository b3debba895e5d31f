// What every benchmark page shares: its query-string parameters, a log shown in the page and on the
// console, and the hand-over of its result (or error) on window.__benchDone, which
// bench/lib-browser.ts polls from Node.
declare global {
  interface Window {
    __benchDone?: { ok: true; result: unknown } | { ok: false; error: string };
  }
}

export const params = new URLSearchParams(location.search);

const logEl = document.getElementById('log')!;

export function log(m: string): void {
  console.log(m);
  logEl.textContent += `\n${m}`;
}

/** Runs the page's benchmark and leaves its result, with the browser's particulars, for Node. */
export function runBenchPage(body: () => Promise<Record<string, unknown>>): void {
  body().then(
    (result) => {
      window.__benchDone = {
        ok: true,
        result: {
          ...result,
          userAgent: navigator.userAgent,
          crossOriginIsolated,
          hardwareConcurrency: navigator.hardwareConcurrency,
        },
      };
    },
    (e: unknown) => {
      window.__benchDone = { ok: false, error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) };
    },
  );
}
