// One stimulus reconstructed headless and written to disk: MIRAGE's decoding (repeats averaged,
// predictions normalised over the condition's stimuli), the model pack's pipeline, then the chosen
// candidate as FILE.png with FILE.lowlevel.png, FILE.enhanced.png, FILE.candidate-<k>.png and
// FILE.json (scores, chosen index, caption, true caption, settings, timings). Used by
// `mirage reconstruct` and by `mirage eval --models` for every missing reconstruction.
import { resolve } from 'node:path';
import { BundleError } from '../core/base/errors.ts';
import type { Condition } from '../core/bundle/manifest.ts';
import { Bundle } from '../core/bundle/loader.ts';
import { createBackend } from '../core/decode/backend.ts';
import { decodeSubject } from '../core/decode/decodeSubject.ts';
import type { RgbImage } from '../core/base/image.ts';
import { loadModelPack } from '../core/generate/modelPack.ts';
import { reconstruct, withDefaults, type DecodedHeads, type GenerateSettings } from '../core/generate/pipeline.ts';
import { PackSessions } from '../core/generate/sessions.ts';
import { encodePng } from '../core/tensor/png.ts';
import { writeFileAtomically } from './atomic.ts';
import { FsShardSource } from './fsSource.ts';
import { progressBar } from './progress.ts';
import { nodeWasmPaths } from './wasmPaths.ts';

export interface ReconstructFilesOptions {
  /** Bundle folder. */
  bundle: string;
  /** Model pack folder (holds modelpack.json). */
  models: string;
  subject: number;
  stimulus: number;
  condition: Condition;
  /** Settings not given take the pipeline's defaults (MIRAGE_DEFAULTS). */
  settings?: Partial<GenerateSettings>;
  /** The chosen candidate's PNG; the other files are its siblings. */
  out: string;
  quiet?: boolean;
  signal?: AbortSignal;
}

const png = (img: RgbImage) => encodePng(img.data, img.width, img.height, 3);

/** Reconstructs one stimulus and writes its files (each atomically); returns what FILE.json holds. */
export async function reconstructToFiles(o: ReconstructFilesOptions): Promise<Record<string, unknown>> {
  const { subject, stimulus, condition, signal } = o;
  const full = withDefaults(o.settings ?? {});
  const bar = o.quiet ? undefined : progressBar('reconstruct');
  try {
    const bundle = await Bundle.open(new FsShardSource(o.bundle), { verify: 'sizes', signal });
    if (!bundle.manifest.stimuli.some((s) => s.id === stimulus)) {
      throw new BundleError(`${o.bundle}/manifest.json`, `no stimulus ${stimulus}`, { field: 'stimuli', expected: bundle.manifest.stimuli.map((s) => s.id).join(', ') });
    }
    const backend = await createBackend(['wasm', 'cpu', 'js'], { wasmPaths: nodeWasmPaths() });
    let heads: DecodedHeads;
    try {
      const dec = await decodeSubject(bundle, backend, { subject, average: true, normalize: true, conditions: [condition], signal });
      const row = dec.rows.findIndex((r) => r.stimulus === stimulus && r.condition === condition);
      if (row < 0) throw new BundleError(`${o.bundle}/manifest.json`, `subject ${subject} has no ${condition} trials of stimulus ${stimulus}`, { field: 'trials' });
      const get = (name: keyof DecodedHeads) => {
        const h = dec.heads.find((x) => x.name === name);
        if (!h) throw new BundleError(`${o.bundle}/manifest.json`, `subject ${subject} has no "${name}" head`, { field: 'subjects[].heads' });
        const q = h.outputShape.reduce((a, b) => a * b, 1);
        return h.values.slice(row * q, (row + 1) * q);
      };
      heads = { image: get('image'), text: get('text'), blurry: get('blurry'), retrieval: get('retrieval'), prompt: get('prompt') };
    } finally {
      backend.dispose();
    }
    const pack = await loadModelPack(new FsShardSource(o.models), { onProgress: bar && ((p) => bar.update(p.loadedBytes, p.totalBytes, p.file)) });
    const sessions = new PackSessions(pack, { executionProviders: ['wasm'] });
    try {
      const r = await reconstruct(sessions, heads, full, {
        signal,
        onProgress: bar && ((p) => bar.update(p.stageIndex * 1000 + Math.round((1000 * p.step) / Math.max(1, p.total)), p.stageCount * 1000, `${p.stage} ${p.step}/${p.total}`)),
      });
      bar?.stop();
      const out = resolve(o.out);
      const base = out.replace(/\.png$/i, '');
      const write = (file: string, bytes: Uint8Array | string) => writeFileAtomically(file, bytes, { signal });
      await write(out, png(r.candidates[r.best]));
      if (r.lowLevel) await write(`${base}.lowlevel.png`, png(r.lowLevel));
      if (r.enhanced) await write(`${base}.enhanced.png`, png(r.enhanced));
      const candidateFiles: string[] = [];
      for (let k = 0; k < r.candidates.length; k++) {
        const f = `${base}.candidate-${k}.png`;
        await write(f, png(r.candidates[k]));
        candidateFiles.push(f);
      }
      const stim = bundle.manifest.stimuli.find((s) => s.id === stimulus)!;
      const meta = {
        bundle: o.bundle,
        bundleProvenance: bundle.manifest.provenance.kind,
        models: o.models,
        modelPack: pack.manifest.name,
        modelPackProvenance: pack.manifest.provenance.kind,
        subject,
        stimulus,
        stimulusName: stim.name,
        condition,
        decoding: "repeats averaged; MIRAGE normalisation over this condition's stimuli",
        settings: r.settings,
        chosen: r.best,
        scores: r.scores,
        scoreMeaning: "cosine similarity of the candidate's encoded hidden states (tokens L2-normalised) to the decoded retrieval embedding",
        caption: r.caption,
        trueCaption: stim.caption,
        captionTokens: r.captionTokens,
        files: { chosen: out, candidates: candidateFiles },
        timingsMs: r.timings,
        executionProvider: 'wasm',
      };
      await write(`${base}.json`, JSON.stringify(meta, null, 1));
      return meta;
    } finally {
      await sessions.dispose();
    }
  } finally {
    bar?.stop();
  }
}
