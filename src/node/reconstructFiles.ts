// One stimulus reconstructed headless and written to disk: MIRAGE's decoding (repeats averaged,
// predictions normalised over the condition's stimuli), the model pack's pipeline, then the chosen
// candidate as FILE.png with FILE.lowlevel.png, FILE.enhanced.png, FILE.candidate-<k>.png and
// FILE.json (scores, chosen index, caption, true caption, settings, timings). Used by
// `mirage reconstruct` and by `mirage eval --models` for every missing reconstruction.
import { resolve } from 'node:path';
import { BundleError } from '../core/base/errors.ts';
import type { RgbImage } from '../core/base/image.ts';
import type { Condition } from '../core/bundle/manifest.ts';
import type { GenerateSettings } from '../core/generate/pipeline.ts';
import { encodePng } from '../core/tensor/png.ts';
import { decode, openBundle, reconstruct } from '../index.ts';
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
  const bar = o.quiet ? undefined : progressBar('reconstruct');
  try {
    const bundle = await openBundle(new FsShardSource(o.bundle), { signal });
    const m = bundle.manifest;
    if (!m.stimuli.some((s) => s.id === stimulus)) {
      throw new BundleError(`${o.bundle}/manifest.json`, `no stimulus ${stimulus}`, {
        field: 'stimuli',
        expected: m.stimuli.map((s) => s.id).join(', '),
      });
    }
    if (!m.trials.some((t) => t.subject === subject && t.stimulus === stimulus && t.condition === condition)) {
      throw new BundleError(
        `${o.bundle}/manifest.json`,
        `subject ${subject} has no ${condition} trials of stimulus ${stimulus}`,
        { field: 'trials' },
      );
    }
    // MIRAGE's decode of the whole condition (the batch its normalisation needs), then one row of it.
    const decoded = await decode(bundle, {
      subject,
      condition,
      backends: ['wasm', 'cpu', 'js'],
      wasmPaths: nodeWasmPaths(),
      signal,
    });
    const r = await reconstruct(decoded, stimulus, new FsShardSource(o.models), {
      settings: o.settings,
      executionProviders: ['wasm'],
      signal,
      onPackProgress: bar && ((p) => bar.update(p.loadedBytes, p.totalBytes, p.file)),
      onProgress:
        bar &&
        ((p) =>
          bar.update(
            p.stageIndex * 1000 + Math.round((1000 * p.step) / Math.max(1, p.total)),
            p.stageCount * 1000,
            `${p.stage} ${p.step}/${p.total}`,
          )),
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
    const stim = m.stimuli.find((s) => s.id === stimulus)!;
    const meta = {
      bundle: o.bundle,
      bundleProvenance: m.provenance.kind,
      models: o.models,
      modelPack: r.modelPack.name,
      modelPackProvenance: r.modelPack.provenance,
      subject,
      stimulus,
      stimulusName: stim.name,
      condition,
      // heads decoded raw for want of training-target statistics say so (decodeCondition's rule)
      decoding: [`repeats averaged; MIRAGE normalisation over ${decoded.batch}`, ...decoded.heads.flatMap((h) => ('missing' in h.normalization ? [h.normalization.missing] : []))].join('; '),
      settings: r.settings,
      chosen: r.best,
      scores: r.scores,
      scoreMeaning:
        "cosine similarity of the candidate's encoded hidden states (tokens L2-normalised) to the decoded retrieval embedding",
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
    bar?.stop();
  }
}
