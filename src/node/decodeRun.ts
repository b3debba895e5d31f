// The Node side of `mirage decode`: open a bundle folder, start a decoder backend, decode a
// subject (src/core/decode/decodeSubject.ts) and write one .npy per head plus decode.json, rows in
// the manifest's trial order (or in the order of the groups), saying what each row is, which
// backend ran and which batch MIRAGE's normalisation used. The command parses flags and calls this;
// tests call it directly.
import { Bundle } from '../core/bundle/loader.ts';
import type { Condition, HeadName } from '../core/bundle/manifest.ts';
import { createBackend, type BackendName } from '../core/decode/backend.ts';
import { decodeSubject } from '../core/decode/decodeSubject.ts';
import { writeNpy } from '../core/tensor/npy.ts';
import { writeAtomically } from './atomic.ts';
import { FsShardSource } from './fsSource.ts';
import { progressBar } from './progress.ts';
import { nodeWasmPaths } from './wasmPaths.ts';

export interface DecodeRun {
  bundle: string;
  subject: number;
  /** Default: every head of the subject. */
  heads?: HeadName[];
  /** Default: every condition. */
  conditions?: Condition[];
  average?: boolean;
  normalize?: boolean;
  /** Backends tried in order (the first that starts runs). */
  backends: BackendName[];
  out: string;
  quiet?: boolean;
  /**
   * Called once the backend has started; returns the signal that stops the rest (Ctrl-C, see
   * src/node/interrupt.ts). Why not a signal up front: starting a tfjs backend evaluates
   * @tensorflow/tfjs synchronously (seconds, no event-loop turn, so a SIGINT listener could not
   * run); it writes nothing, so until then Node's default (Ctrl-C exits at once) is the right one.
   */
  interruptible?: () => AbortSignal;
}

/** Decodes and writes `out` atomically; returns the line the CLI prints. */
export async function runDecode(o: DecodeRun): Promise<string> {
  const fallbacks: string[] = [];
  const backend = await createBackend(o.backends, {
    wasmPaths: nodeWasmPaths(),
    onFallback: (n, e) => fallbacks.push(`${n}: ${e instanceof Error ? e.message : String(e)}`),
  });
  const signal = o.interruptible?.();
  const bar = o.quiet ? undefined : progressBar('decode');
  try {
    const bundle = await Bundle.open(new FsShardSource(o.bundle), {
      verify: 'sizes',
      signal,
      onProgress: bar && ((p) => bar.update(p.loadedBytes, p.totalBytes, p.file)),
    });
    const res = await decodeSubject(bundle, backend, {
      subject: o.subject,
      heads: o.heads,
      conditions: o.conditions,
      average: o.average,
      normalize: o.normalize,
      signal,
      onProgress: bar && ((d, t, l) => bar.update(d, t, l)),
    });
    await writeAtomically(o.out, async (sink) => {
      const files: Record<string, unknown> = {};
      for (const h of res.heads) {
        const file = `${h.name}.npy`;
        await sink.write(file, writeNpy(h.values, [res.rows.length, ...h.outputShape], '<f4'));
        files[h.name] = { file, shape: [res.rows.length, ...h.outputShape], normalization: h.normalization ?? null };
      }
      const meta = {
        bundle: o.bundle,
        bundleName: bundle.manifest.name,
        provenance: bundle.manifest.provenance.kind,
        subject: res.subject,
        backend: res.backend,
        backendFallbacks: fallbacks,
        averaged: res.averaged,
        normalized: res.normalized,
        normalization: res.normalized
          ? 'MIRAGE: each output dimension z-scored across the batch (population std), then x training-target std + mean; one batch per condition (see heads.*.normalization; a head without training-target mean/std is written raw and its entry says so under "missing")'
          : 'none (raw ridge predictions)',
        heads: files,
        rows: res.rows,
      };
      await sink.write('decode.json', new TextEncoder().encode(JSON.stringify(meta, null, 1)));
    }, { signal });
    // The one rule for missing statistics (src/core/decode/decodeCondition.ts): raw, and said.
    for (const h of res.heads) for (const n of h.normalization ?? []) if ('missing' in n) process.stderr.write(`decode: ${n.condition}: ${n.missing}\n`);
    return (
      `decoded subject ${res.subject}: ${res.rows.length} ${res.averaged ? 'stimulus x condition averages' : 'trials'}, heads ${res.heads
        .map((h) => h.name)
        .join(', ')}, backend ${res.backend}${res.normalized ? ', MIRAGE-normalised per condition' : ''} -> ${o.out}\n`
    );
  } finally {
    bar?.stop();
    backend.dispose();
  }
}
