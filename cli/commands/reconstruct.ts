// `mirage reconstruct --bundle DIR --models DIR --subject S --stimulus ID --condition vision|imagery
//  [--candidates N --seed K --strength X] --out FILE.png`: MIRAGE's reconstruction of one stimulus
// (repeats averaged, predictions normalised over the condition's stimuli, as MIRAGE does), headless.
// Writes FILE.png (the chosen candidate), FILE.lowlevel.png, FILE.enhanced.png,
// FILE.candidate-<k>.png and FILE.json (scores, chosen index, caption, true caption, settings, timings).
import type { Command } from 'commander';
import { rename, writeFile, mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Bundle } from '../../src/core/bundle/loader.ts';
import { BundleError } from '../../src/core/base/errors.ts';
import { createBackend } from '../../src/core/decode/backend.ts';
import { decodeSubject } from '../../src/core/decode/decodeSubject.ts';
import { loadModelPack } from '../../src/core/generate/modelPack.ts';
import { PackSessions } from '../../src/core/generate/sessions.ts';
import { reconstruct, withDefaults, type DecodedHeads, type GenerateSettings } from '../../src/core/generate/pipeline.ts';
import { buildDemoModelPack } from '../../src/core/simulate/demoPack.ts';
import { buildWorld } from '../../src/core/simulate/experiment.ts';
import { DEFAULT_TRAIN_IMAGES } from '../../src/core/simulate/dims.ts';
import { writeAtomically } from '../../src/node/fsSink.ts';
import type { RgbImage } from '../../src/core/generate/enhance.ts';
import { encodePng } from '../../src/core/tensor/png.ts';
import { FsShardSource } from '../../src/node/fsSource.ts';
import { progressBar } from '../lib/progress.ts';
import { nodeWasmPaths } from './decode.ts';

export interface ReconstructCliOptions {
  bundle: string;
  models: string;
  subject: string;
  stimulus: string;
  condition: string;
  candidates?: string;
  seed?: string;
  strength?: string;
  out: string;
  quiet?: boolean;
}

function numberOpt(v: string | undefined, flag: string, ok: (n: number) => boolean, expected: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || !ok(n)) throw new BundleError('command line', `${flag} ${v}`, { expected });
  return n;
}

async function writeFileAtomic(file: string, bytes: Uint8Array | string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
}

const png = (img: RgbImage) => encodePng(img.data, img.width, img.height, 3);

export async function runReconstruct(o: ReconstructCliOptions): Promise<Record<string, unknown>> {
  const subject = numberOpt(o.subject, '--subject', Number.isInteger, 'a subject id such as 1')!;
  const stimulus = numberOpt(o.stimulus, '--stimulus', (n) => Number.isInteger(n) && n >= 0, 'a stimulus id 0-17')!;
  if (o.condition !== 'vision' && o.condition !== 'imagery') {
    throw new BundleError('command line', `--condition ${o.condition}`, { expected: 'vision or imagery' });
  }
  const given: Partial<GenerateSettings> = {};
  const candidates = numberOpt(o.candidates, '--candidates', (n) => Number.isInteger(n) && n >= 1, 'a positive integer');
  const seed = numberOpt(o.seed, '--seed', Number.isInteger, 'an integer');
  const strength = numberOpt(o.strength, '--strength', (n) => n > 0 && n <= 1, 'a number in (0, 1]');
  if (candidates !== undefined) given.candidates = candidates;
  if (seed !== undefined) given.seed = seed;
  if (strength !== undefined) given.strength = strength;
  const full = withDefaults(given);
  const bar = o.quiet ? undefined : progressBar('reconstruct');
  try {
    const bundle = await Bundle.open(new FsShardSource(o.bundle), { verify: 'sizes' });
    if (!bundle.manifest.stimuli.some((s) => s.id === stimulus)) {
      throw new BundleError(`${o.bundle}/manifest.json`, `no stimulus ${stimulus}`, { field: 'stimuli', expected: bundle.manifest.stimuli.map((s) => s.id).join(', ') });
    }
    const backend = await createBackend(['wasm', 'cpu', 'js'], { wasmPaths: nodeWasmPaths() });
    let heads: DecodedHeads;
    try {
      const dec = await decodeSubject(bundle, backend, { subject, average: true, normalize: true, conditions: [o.condition] });
      const row = dec.rows.findIndex((r) => r.stimulus === stimulus && r.condition === o.condition);
      if (row < 0) throw new BundleError(`${o.bundle}/manifest.json`, `subject ${subject} has no ${o.condition} trials of stimulus ${stimulus}`, { field: 'trials' });
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
        onProgress: bar && ((p) => bar.update(p.stageIndex * 1000 + Math.round((1000 * p.step) / Math.max(1, p.total)), p.stageCount * 1000, `${p.stage} ${p.step}/${p.total}`)),
      });
      bar?.stop();
      const out = resolve(o.out);
      const base = out.replace(/\.png$/i, '');
      await writeFileAtomic(out, png(r.candidates[r.best]));
      if (r.lowLevel) await writeFileAtomic(`${base}.lowlevel.png`, png(r.lowLevel));
      if (r.enhanced) await writeFileAtomic(`${base}.enhanced.png`, png(r.enhanced));
      const candidateFiles: string[] = [];
      for (let k = 0; k < r.candidates.length; k++) {
        const f = `${base}.candidate-${k}.png`;
        await writeFileAtomic(f, png(r.candidates[k]));
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
        condition: o.condition,
        decoding: 'repeats averaged; MIRAGE normalisation over this condition\'s stimuli',
        settings: r.settings,
        chosen: r.best,
        scores: r.scores,
        scoreMeaning: 'cosine similarity of the candidate\'s encoded hidden states (tokens L2-normalised) to the decoded retrieval embedding',
        caption: r.caption,
        trueCaption: stim.caption,
        captionTokens: r.captionTokens,
        files: { chosen: out, candidates: candidateFiles },
        timingsMs: r.timings,
        executionProvider: 'wasm',
      };
      await writeFileAtomic(`${base}.json`, JSON.stringify(meta, null, 1));
      return meta;
    } finally {
      await sessions.dispose();
    }
  } finally {
    bar?.stop();
  }
}

export function register(program: Command): void {
  program
    .command('reconstruct')
    .description("MIRAGE's reconstruction of one stimulus (decode + model pack), written as PNG + JSON")
    .requiredOption('--bundle <dir>', 'bundle folder')
    .requiredOption('--models <dir>', 'model pack folder (holds modelpack.json)')
    .requiredOption('--subject <n>', 'subject id')
    .requiredOption('--stimulus <id>', 'stimulus id (0-17)')
    .requiredOption('--condition <c>', 'vision or imagery')
    .option('--candidates <n>', 'candidates (default 16)')
    .option('--seed <k>', 'seed (default 0)')
    .option('--strength <x>', 'img2img strength (default 0.70)')
    .requiredOption('--out <file.png>', 'output PNG (siblings: .lowlevel.png, .enhanced.png, .candidate-k.png, .json)')
    .option('--quiet', 'no progress bar')
    .action(async (opts: ReconstructCliOptions) => {
      const meta = await runReconstruct(opts);
      process.stderr.write(`reconstruct: ${meta.files && (meta.files as { chosen: string }).chosen} (candidate ${meta.chosen}, caption "${meta.caption}")\n`);
    });

  // Standalone build of the demo model pack for a demo bundle's seed (the same pack `mirage demo`
  // writes when it calls buildDemoModelPack); useful to rebuild a pack without rebuilding the bundle.
  program
    .command('demo-pack')
    .description('build the SIMULATED demo model pack (docs/simulation.md, "Demo model pack") for a demo seed')
    .requiredOption('--out <dir>', 'output model pack folder (replaced atomically)')
    .option('--seed <n>', 'the demo bundle\'s seed', '1')
    .option('--train-images <n>', 'training images to fit on', '800')
    .option('--world-train-images <n>', "the demo bundle's --train-images (the encoders are centred on them)", String(DEFAULT_TRAIN_IMAGES))
    .action(async (opts: { out: string; seed: string; trainImages: string; worldTrainImages: string }) => {
      const seed = Number(opts.seed);
      const n = Number(opts.trainImages);
      const nWorld = Math.max(n, Number(opts.worldTrainImages));
      if (!Number.isInteger(seed) || !Number.isInteger(n) || n < 50) throw new BundleError('command line', '--seed/--train-images', { expected: 'integers, train images >= 50' });
      const bar = progressBar('demo-pack');
      try {
        const world = await buildWorld(seed, { trainImages: nWorld, onProgress: (d, t, l) => bar.update(d, t, `world: ${l}`) });
        const { report } = await writeAtomically(opts.out, (sink) =>
          buildDemoModelPack(sink, {
            seed,
            encoders: world.graphs,
            training: { scenes: world.trainScenes, images: world.trainImages, features: world.trainFeatures },
            trainImages: n,
            onProgress: (d, t, l) => bar.update(d, t, l),
          }),
        );
        bar.stop();
        process.stderr.write(`demo-pack: wrote ${opts.out} (SIMULATED) ${JSON.stringify(report)}\n`);
      } finally {
        bar.stop();
      }
    });
}
