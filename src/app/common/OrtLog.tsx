// "onnxruntime log": the lines ORT's logger wrote in one worker (e.g. which nodes WebGPU left to
// the CPU), shown as a collapsed diagnostics list instead of red console errors with colour codes.
import { useOrtLogStore } from '../../state/ortLogStore.ts';
import { ORT_LOG_CHANNEL, type OrtLogLine } from '../../core/onnx/runtime.ts';

let listening = false;

/** Starts collecting the workers' onnxruntime log lines into the store (once per page). */
export function listenToOrtLog(): void {
  if (listening || typeof BroadcastChannel === 'undefined') return;
  listening = true;
  new BroadcastChannel(ORT_LOG_CHANNEL).onmessage = (e: MessageEvent<OrtLogLine>) => useOrtLogStore.getState().add(e.data);
}

// From the import of the panel that shows the log, before its worker creates any session.
listenToOrtLog();

const NONE: OrtLogLine[] = [];

export function OrtLog({ context, title = 'onnxruntime log' }: { context: string; title?: string }) {
  const all = useOrtLogStore((s) => s.lines);
  const lines = all.some((l) => l.context === context) ? all.filter((l) => l.context === context) : NONE;
  if (!lines.length) return null;
  const counts = new Map<string, number>();
  for (const l of lines) counts.set(l.severity, (counts.get(l.severity) ?? 0) + 1);
  return (
    <details className="ort-log rc-note" data-testid="ort-log" data-lines={lines.length}>
      <summary>
        {title}: {[...counts].map(([sev, n]) => `${n} ${sev}${n > 1 ? 's' : ''}`).join(', ')}
      </summary>
      <ol>
        {lines.map((l, i) => (
          <li key={i} className={`ort-log__${l.severity}`}>
            <time>{new Date(l.time).toLocaleTimeString()}</time> <strong>{l.severity}</strong> {l.message}
          </li>
        ))}
      </ol>
    </details>
  );
}
