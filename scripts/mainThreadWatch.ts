// How responsive a page's main thread stays, watched from inside the page (the reconstruction
// browser test and the generate benchmark): `page.addInitScript(watchMainThread, labelGaps)`, then
// read window.__longest (longest 'longtask' entry, ms), window.__maxGap (largest gap between two
// beats of a 20 ms timer, ms) and window.__gaps. A timer, not requestAnimationFrame: under
// SwiftShader frames wait for the GPU process, which runs the worker's WebGPU kernels; that is not
// the page. The function runs in the page, so it must not use anything outside its own body.

export interface MainThreadWatch {
  __longest: number;
  __maxGap: number;
  __beat: number;
  /** Gaps over 200 ms with the stage the Reconstruction panel's progress bar showed (labelGaps only). */
  __gaps: string[];
}

export function watchMainThread(labelGaps: boolean): void {
  const w = window as unknown as MainThreadWatch;
  w.__longest = 0;
  w.__gaps = [];
  new PerformanceObserver((l) => {
    for (const e of l.getEntries()) w.__longest = Math.max(w.__longest, e.duration);
  }).observe({ type: 'longtask', buffered: true });
  w.__maxGap = 0;
  w.__beat = performance.now();
  setInterval(() => {
    const now = performance.now();
    w.__maxGap = Math.max(w.__maxGap, now - w.__beat);
    if (labelGaps && now - w.__beat > 200) {
      const stage = document.querySelector('[data-testid=rc-progress] .ctl-progress__label')?.textContent ?? (document.querySelector('[data-testid=rc-result]') ? 'result' : '?');
      w.__gaps.push(`${(now - w.__beat).toFixed(0)} ms during "${stage}"`);
    }
    w.__beat = now;
  }, 20);
}
