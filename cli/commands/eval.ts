// `mirage eval --bundle DIR [--recons DIR] [--metrics DIR] [--reps N] [--subjects 1,2,5,7] --out DIR`:
// scores reconstructions that already exist — a folder of PNGs named
// <subject>_<condition>_<stimulus>_<rep>.png, or the bundle's `reconstructions` — against the
// bundle's stimulus images, and writes results.csv (one row per sample and repetition) and
// summary.md (shaped like MIRAGE Table 1). Resumable: rows already in results.csv are not redone.
import type { Command } from 'commander';
import { mkdir, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Bundle } from '../../src/core/bundle/loader.ts';
import { BundleError } from '../../src/core/base/errors.ts';
import type { StimulusSet } from '../../src/core/bundle/manifest.ts';
import { fromUint8 } from '../../src/core/evaluate/image.ts';
import type { FloatImage } from '../../src/core/evaluate/image.ts';
import { FEATURE_NETWORKS, loadMetricPack } from '../../src/core/evaluate/featurePacks.ts';
import type { FeatureRunner } from '../../src/core/evaluate/featurePacks.ts';
import { brainScorerFor, encodingPackScorer } from '../../src/core/evaluate/brainModel.ts';
import { loadEncodingPack } from '../../src/core/evaluate/encodingPack.ts';
import { bundleEncodingPacks } from '../../src/core/evaluate/bundleEval.ts';
import { hasDemoModels, metricPackNotes, readDemoImageEncoder } from '../../src/core/evaluate/demoMetricPack.ts';
import { hasGroundTruth } from '../../src/core/simulate/groundTruth.ts';
import type { FeatureNetwork } from '../../src/core/evaluate/featurePacks.ts';
import { MIRAGE_EVAL_SIZE } from '../../src/core/evaluate/pixelSuite.ts';
import { bundleReconstructionItems, evaluateReconstructions, parseReconFileName } from '../../src/core/evaluate/runEval.ts';
import type { FeatureNetworkRun, ReconstructionItem } from '../../src/core/evaluate/runEval.ts';
import { csvToRows, publishedComparisonMarkdown, rowsToCsv, summarise, summaryMarkdown } from '../../src/core/evaluate/tables.ts';
import type { ResultRow } from '../../src/core/evaluate/tables.ts';
import { createSession, runFloat } from '../../src/core/onnx/runtime.ts';
import { FsShardSource } from '../../src/node/fsSource.ts';
import { writeFileAtomically } from '../../src/node/atomic.ts';
import { readPngImage, readRegularText } from '../../src/node/files.ts';
import { progressBar } from '../../src/node/progress.ts';
import { reconstructToFiles } from '../../src/node/reconstructFiles.ts';
import type { CommandContext } from '../context.ts';

interface EvalOpts {
  bundle: string;
  recons?: string;
  models?: string;
  candidates?: string;
  method?: string;
  metrics?: string;
  encoding?: string[];
  reps?: string;
  subjects?: string;
  size: string;
  antialias: boolean;
  identification: string;
  out: string;
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m ? `${m}m${Math.round(s % 60)}s` : `${s.toFixed(0)}s`;
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('eval')
    .description('score existing reconstructions against a bundle\'s stimuli; writes results.csv and summary.md (resumable)')
    .requiredOption('--bundle <dir>', 'bundle folder')
    .requiredOption('--out <dir>', 'output folder (results.csv, summary.md)')
    .option('--recons <dir>', 'folder of PNGs named <subject>_<condition>_<stimulus>_<rep>.png (default: the bundle\'s reconstructions)')
    .option('--models <dir>', 'model pack: reconstruct every missing <out>/recons/<subject>_<condition>_<stimulus>_<rep>.png first (seed = rep), then score them')
    .option('--candidates <n>', 'with --models: retrieval candidates per reconstruction (default: the pipeline\'s)')
    .option('--method <name>', 'method name for --recons (default: the folder name)')
    .option('--metrics <dir>', 'metric pack folder (feature networks); without it only pixel metrics')
    .option('--encoding <dirs...>', 'encoding-model pack folder(s), one per subject (GNet\'s role): brain correlation per ROI')
    .option('--reps <n>', 'use repetitions 0..n-1 only')
    .option('--subjects <list>', 'comma-separated subject ids')
    .option('--size <n>', `evaluation size (shorter edge; MIRAGE ${MIRAGE_EVAL_SIZE}, MindEye 425)`, String(MIRAGE_EVAL_SIZE))
    .option('--no-antialias', 'resize without antialiasing')
    .option('--identification <variant>', 'two-way identification: mindeye (chance 50%) or mirage (published script, subtracts 1)', 'mindeye')
    .action(async (o: EvalOpts) => {
      const size = Number(o.size);
      if (!Number.isInteger(size) || size < 11) throw new BundleError('--size', `got "${o.size}"`, { expected: 'an integer >= 11' });
      if (o.identification !== 'mindeye' && o.identification !== 'mirage') {
        throw new BundleError('--identification', `got "${o.identification}"`, { expected: 'mindeye or mirage' });
      }
      const maxReps = o.reps === undefined ? Infinity : Number(o.reps);
      const candidates = o.candidates === undefined ? undefined : Number(o.candidates);
      if (candidates !== undefined && !(Number.isInteger(candidates) && candidates >= 1)) throw new BundleError('--candidates', `got "${o.candidates}"`, { expected: 'a positive integer' });
      const subjects = o.subjects ? new Set(o.subjects.split(',').map((s) => Number(s.trim()))) : null;
      if (subjects && [...subjects].some((s) => !Number.isInteger(s))) throw new BundleError('--subjects', `got "${o.subjects}"`, { expected: 'comma-separated integers' });

      const bundleSource = new FsShardSource(o.bundle);
      const bundle = await Bundle.open(bundleSource, { verify: 'sizes', signal: ctx.interruptible() });
      const m = bundle.manifest;
      const stimById = new Map(m.stimuli.map((s) => [s.id, s]));
      const groundTruth = async (id: number): Promise<FloatImage> => {
        const s = stimById.get(id);
        if (!s?.image) throw new BundleError(`${o.bundle}/manifest.json`, `stimulus ${id} has no ground-truth image`, { field: `stimuli[${id}].image` });
        const [h, w, c] = s.image.shape;
        return fromUint8((await bundle.tensor(s.image)) as Uint8Array, w, h, c);
      };
      const evaluable = (stimulus: number) => !!stimById.get(stimulus)?.image;

      if (o.models && !o.recons) {
        // Run MIRAGE's pipeline (decode + model pack) for every missing reconstruction, then score
        // the folder like any other. Existing PNGs are kept, so an interrupted run resumes.
        const dir = join(o.out, 'recons', 'MIRAGE pipeline');
        await mkdir(dir, { recursive: true });
        const have = new Set(await readdir(dir));
        const reps = Number.isFinite(maxReps) ? maxReps : 10;
        const jobs: { subject: number; condition: 'vision' | 'imagery'; stimulus: number; rep: number }[] = [];
        for (const subj of m.subjects.filter((x) => x.role === 'decoded' && (!subjects || subjects.has(x.id))))
          for (const condition of ['vision', 'imagery'] as const)
            for (const st of m.stimuli.filter((x) => x.image && m.trials.some((t) => t.subject === subj.id && t.stimulus === x.id && t.condition === condition)))
              for (let rep = 0; rep < reps; rep++) jobs.push({ subject: subj.id, condition, stimulus: st.id, rep });
        const todo = jobs.filter((j) => !have.has(`${j.subject}_${j.condition}_${j.stimulus}_${j.rep}.png`));
        const gbar = progressBar('reconstruct');
        const g0 = performance.now();
        for (const [i, j] of todo.entries()) {
          const el = (performance.now() - g0) / 1000;
          gbar.update(i, todo.length, `s${j.subject} ${j.condition} #${j.stimulus} rep ${j.rep} | ${jobs.length - todo.length} already made | ETA ${fmtDuration(i ? (el / i) * (todo.length - i) : NaN)}`);
          await reconstructToFiles({
            bundle: o.bundle,
            models: o.models,
            subject: j.subject,
            stimulus: j.stimulus,
            condition: j.condition,
            settings: { seed: j.rep, ...(candidates !== undefined && { candidates }) },
            out: join(dir, `${j.subject}_${j.condition}_${j.stimulus}_${j.rep}.png`),
            quiet: true,
            signal: ctx.interruptible(),
          });
        }
        gbar.update(todo.length, todo.length, 'done');
        gbar.stop();
        o.recons = dir;
      }
      const items: ReconstructionItem[] = [];
      const keep = (subject: number, stimulus: number, rep: number) =>
        (!subjects || subjects.has(subject)) && rep < maxReps && evaluable(stimulus);
      if (o.recons) {
        const method = o.method ?? basename(o.recons);
        const names = (await readdir(o.recons)).filter((n) => n.toLowerCase().endsWith('.png')).sort();
        for (const name of names) {
          const p = parseReconFileName(name);
          if (!p) {
            if (/^\d+_(vision|imagery)_\d+_\d+\..+\.png$/i.test(name)) continue; // reconstruct's side files (.lowlevel.png, ...)
            process.stderr.write(`skipping ${name}: expected <subject>_<condition>_<stimulus>_<rep>.png\n`);
            continue;
          }
          if (!stimById.has(p.stimulus)) throw new BundleError(join(o.recons, name), `stimulus ${p.stimulus} is not in the bundle`, { field: 'file name' });
          if (!keep(p.subject, p.stimulus, p.repetition)) continue;
          items.push({ method, ...p, label: name, load: () => readPngImage(join(o.recons!, name)) });
        }
      } else {
        const sets = m.reconstructions ?? [];
        if (!sets.length) {
          throw new BundleError(`${o.bundle}/manifest.json`, 'the bundle has no reconstructions and no --recons folder was given', {
            field: 'reconstructions',
            expected: 'reconstruction sets, or --recons DIR (running the generator from eval is not wired yet)',
          });
        }
        items.push(...bundleReconstructionItems(m, (ref) => bundle.tensor(ref) as Promise<Uint8Array>, keep));
      }
      if (!items.length) throw new BundleError(o.recons ?? o.bundle, 'nothing to evaluate (check --subjects / --reps and that stimuli have images)');

      let networks: Partial<Record<FeatureNetwork, FeatureNetworkRun>> | undefined;
      let packNote = '';
      const columnNotes: string[] = [];
      if (o.metrics) {
        const pack = await loadMetricPack(new FsShardSource(o.metrics));
        networks = {};
        for (const net of FEATURE_NETWORKS) {
          const spec = pack.manifest.networks[net];
          if (!spec) continue;
          const session = await createSession(pack.onnx[net]!);
          networks[net] = { spec, run: (data, dims) => runFloat(session, { [spec.input.name]: { data, dims } }, spec.output.name) };
        }
        packNote = `feature metrics: metric pack "${pack.manifest.name}" (${pack.manifest.provenance.kind})`;
        columnNotes.push(...metricPackNotes(pack.manifest));
      }
      // Brain correlation: the simulation's ground-truth encoding model, driven by the demo image
      // encoder (models/ next to the bundle); --encoding packs (GNet's role) replace it and serve real bundles.
      let encoder: FeatureRunner | null = null;
      let encoderSize = m.imageSize;
      if (hasGroundTruth(m) && (await hasDemoModels(bundleSource))) {
        const enc = await readDemoImageEncoder(bundleSource);
        const session = await createSession(enc.bytes);
        encoder = (data, dims) => runFloat(session, { [enc.input.name]: { data, dims } }, enc.output.name);
        encoderSize = enc.size;
      }
      let brainInfo = brainScorerFor(bundle, encoder, encoderSize);
      // Encoding-model packs (--encoding, else encoding/subjNN/ in the bundle folder) take precedence
      // (real bundles have no other encoding model).
      const packs = o.encoding?.length ? await Promise.all(o.encoding.map((d) => loadEncodingPack(new FsShardSource(d)))) : await bundleEncodingPacks(bundle);
      if (packs.length) {
        const scorer = await encodingPackScorer(bundle, packs, async (p) => {
          const session = await createSession(p.onnx);
          return (data, dims) => runFloat(session, { [p.manifest.model.input.name]: { data, dims } }, p.manifest.model.output.name);
        });
        const missing = m.subjects.filter((s) => s.role === 'decoded' && !packs.some((p) => p.manifest.subject === s.id)).map((s) => s.id);
        const standIn = packs.some((p) => p.manifest.model.kind !== 'real');
        brainInfo = {
          scorer,
          reason:
            `brain correlation: ${scorer.description}` +
            (standIn ? ' — NOT the real encoding model: brain r not comparable to published numbers' : '') +
            (missing.length ? `; no pack for subject ${missing.join(', ')} (brain columns empty there)` : ''),
        };
      }
      columnNotes.push(brainInfo.reason);
      process.stderr.write(`${brainInfo.reason}\n`);

      await mkdir(o.out, { recursive: true });
      const csvPath = join(o.out, 'results.csv');
      let finished: ResultRow[] = [];
      try {
        finished = csvToRows(await readRegularText(csvPath, { expected: 'the results.csv of an earlier mirage eval run into this --out' }), csvPath);
      } catch (e) {
        // no results.csv yet: a fresh run; a FIFO, folder or unreadable file there is refused
        if ((e as { cause?: NodeJS.ErrnoException }).cause?.code !== 'ENOENT') throw e;
      }
      const bar = progressBar('eval');
      const t0 = performance.now();
      let firstDone = -1;
      const rows = await evaluateReconstructions(items, {
        size,
        antialias: o.antialias,
        groundTruth,
        stimulusSet: (id) => stimById.get(id)!.set as StimulusSet,
        networks,
        brain: brainInfo.scorer ?? undefined,
        identificationVariant: o.identification,
        signal: ctx.interruptible(),
        finished,
        onGroup: (all) => writeFileAtomically(csvPath, rowsToCsv(all), { signal: ctx.interruptible() }),
        onProgress: (done, total, label) => {
          if (firstDone < 0) firstDone = done;
          const el = (performance.now() - t0) / 1000;
          const eta = done > 0 ? (el / done) * (total - done) : NaN;
          bar.update(done, total, `${label} | ${done}/${total} | elapsed ${fmtDuration(el)} ETA ${fmtDuration(eta)}`);
        },
      });
      bar.stop();
      await writeFileAtomically(csvPath, rowsToCsv(rows), { signal: ctx.interruptible() });
      const provenance = m.provenance.kind === 'simulated' ? 'this bundle, SIMULATED data' : 'this bundle';
      const summary = summarise(rows);
      const methods = [...new Set(summary.map((x) => x.method))];
      const md = [
        `# Evaluation of ${m.name}`,
        '',
        `Source: ${provenance}. Evaluation size ${size} (bilinear${o.antialias ? ', antialiased' : ''}); ` +
          `identification: ${o.identification}; ${packNote || 'pixel metrics only (no --metrics pack)'}.`,
        packNote.includes('stand-in') ? '\n**Feature metrics use stand-in networks: not comparable to published numbers.**\n' : '',
        ...columnNotes.map((n) => `- ${n}`),
        '',
        summaryMarkdown(summary, { source: provenance }),
        '',
        ...methods.map((method) => publishedComparisonMarkdown(summary, { method, source: provenance }) + '\n'),
      ].join('\n');
      await writeFileAtomically(join(o.out, 'summary.md'), md, { signal: ctx.interruptible() });
      // The comparison with the published rows is the one-glance answer; print it, not only write it.
      process.stdout.write(methods.map((method) => publishedComparisonMarkdown(summary, { method, source: provenance })).join('\n\n') + '\n');
      process.stderr.write(`wrote ${csvPath} (${rows.length} rows) and ${join(o.out, 'summary.md')}\n`);
    });
}
