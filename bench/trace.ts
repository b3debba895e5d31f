// Chromium trace of a benchmark page's main thread over CDP (generate.bench.ts and ui.bench.ts):
// the trace events of a step, and a summary of the page's renderer-main tasks (wall and thread-CPU
// time, and what the longest ones ran).
import type { CDPSession } from 'playwright-core';

export interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  tdur?: number;
  args?: { name?: string; data?: { functionName?: string; url?: string; type?: string } };
}

/** The page's main-thread tasks in a trace: wall and thread-CPU ms, and what the longest one did. */
export function summarizeMainThread(events: TraceEvent[]) {
  const names = new Map<string, string>();
  for (const e of events) if (e.ph === 'M' && e.name === 'thread_name' && e.args?.name) names.set(`${e.pid}:${e.tid}`, e.args.name);
  const tasksOf = (key: string) => events.filter((e) => `${e.pid}:${e.tid}` === key && e.ph === 'X' && e.name === 'RunTask' && e.dur !== undefined);
  // the renderer main thread with the most tasks is the page's (others are idle frames)
  const mains = [...names].filter(([, n]) => n === 'CrRendererMain').map(([k]) => ({ k, tasks: tasksOf(k) }));
  const main = mains.sort((a, b) => b.tasks.length - a.tasks.length)[0];
  if (!main || !main.tasks.length) return null;
  const tasks = main.tasks;
  const ms = (us: number | undefined) => Math.round((us ?? 0) / 100) / 10;
  const longest = tasks.reduce((a, b) => (b.dur! > a.dur! ? b : a));
  const busiest = tasks.reduce((a, b) => ((b.tdur ?? 0) > (a.tdur ?? 0) ? b : a));
  const contents = (t: TraceEvent) => {
    const agg = new Map<string, number>();
    for (const e of events) {
      if (`${e.pid}:${e.tid}` !== main.k || e.ph !== 'X' || e === t || e.ts < t.ts || e.ts + (e.dur ?? 0) > t.ts + t.dur!) continue;
      const d = e.args?.data;
      const key =
        e.name === 'FunctionCall' ? `js ${d?.functionName || '(anonymous)'} ${(d?.url ?? '').replace(/^.*\//, '').replace(/\?.*/, '')}` : e.name === 'EventDispatch' ? `event ${d?.type}` : e.name;
      if (/^(js |event |Layout$|UpdateLayoutTree$|Paint$|Commit$|MajorGC$|MinorGC$|EvaluateScript$|FireAnimationFrame$|TimerFire$|HitTest$|Canvas2DResourceProvider::ProduceCanvasResource$)/.test(key)) {
        agg.set(key, (agg.get(key) ?? 0) + (e.dur ?? 0));
      }
    }
    return [...agg].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${ms(v)} ms`).join('; ');
  };
  return {
    tasks: tasks.length,
    longestWallMs: ms(longest.dur),
    cpuOfLongestMs: ms(longest.tdur),
    longestContents: contents(longest),
    longestCpuMs: ms(busiest.tdur),
    wallOfLongestCpuMs: ms(busiest.dur),
    longestCpuContents: contents(busiest),
    tasksOver50msWall: tasks.filter((t) => t.dur! > 50_000).length,
    tasksOver50msCpu: tasks.filter((t) => (t.tdur ?? 0) > 50_000).length,
  };
}

const TRACE_CATEGORIES = ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'toplevel', 'v8.execute'].join(',');

/** Runs `body` under a CDP trace of the page (no trace, and no events, when cdp is null). */
export async function traced<T>(cdp: CDPSession | null, body: () => Promise<T>): Promise<{ value: T; events: TraceEvent[] }> {
  if (!cdp) return { value: await body(), events: [] };
  const events: TraceEvent[] = [];
  const onData = (d: { value: object[] }) => void events.push(...(d.value as TraceEvent[]));
  cdp.on('Tracing.dataCollected', onData);
  const complete = new Promise<void>((r) => cdp.once('Tracing.tracingComplete', () => r()));
  await cdp.send('Tracing.start', { categories: TRACE_CATEGORIES, transferMode: 'ReportEvents' });
  try {
    return { value: await body(), events };
  } finally {
    await cdp.send('Tracing.end');
    await complete;
    cdp.off('Tracing.dataCollected', onData);
  }
}
