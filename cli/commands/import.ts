// `mirage import ...`: turns files a researcher already has (NSD, MIRAGE's weights and published
// reconstructions, MindEye2's HDF5 betas) into a bundle, without Python. This file parses flags and
// finds the input files; src/core/importers does the conversion and src/node/importRun.ts runs it
// against an atomic output folder (validated before it is renamed into place; Ctrl-C or a failure
// leaves nothing), hashing every input into the provenance.
import type { Command } from 'commander';
import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { BundleError } from '../../src/core/base/errors.ts';
import { HEAD_NAMES } from '../../src/core/bundle/manifest.ts';
import type { ByteSource } from '../../src/core/formats/byteSource.ts';
import { openHdf5File } from '../../src/node/hdf5.ts';
import { readExistingBundle } from '../../src/core/importers/common.ts';
import type { HeadFiles } from '../../src/core/importers/mirageWeights.ts';
import { importNsdBetas } from '../../src/core/importers/nsdBetas.ts';
import { importNsdImagery } from '../../src/core/importers/nsdImagery.ts';
import { importRecons, parseCaptions, type ReconInput } from '../../src/core/importers/recons.ts';
import { fileSource, fsTree, readRegularText } from '../../src/node/files.ts';
import { discoverHeads, GEMMS, runImport, runMirageWeights, type GemmName } from '../../src/node/importRun.ts';
import { baseProvenance } from '../../src/node/provenance.ts';
import type { CommandContext } from '../context.ts';

function int(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new BundleError('command line', `${name} must be a positive integer, got "${v}"`);
    return n;
  };
}

/** Files of the tree resolved to on-disk paths (for provenance hashing). */
function onDisk(root: string, onSource: (p: string) => void): (p: string) => void {
  return (p) => onSource(join(root, p));
}

export function register(program: Command, ctx: CommandContext): void {
  const imp = program.command('import').description('turn real data (NSD, MIRAGE weights, published reconstructions) into a bundle');

  imp
    .command('nsd-imagery')
    .description('NSD-Imagery betas, trials, stimuli, surfaces and ROIs of one subject -> a new bundle')
    .requiredOption('--nsd-root <dir>', 'folder holding nsddata/, nsddata_betas/ and nsddata_stimuli/')
    .requiredOption('--subject <n>', 'NSD subject number (1-8)', int('--subject'))
    .requiredOption('--out <dir>', 'bundle folder to write (replaced atomically)')
    .option('--stimuli <path>', 'imagery_stimuli_18.pt, or a folder of 18 PNGs in stimulus-id order (default: imagery_stimuli_18.pt under --nsd-root)')
    .option('--beta-dtype <dtype>', 'float16 (default, half the size) or float32', 'float16')
    .option('--image-size <px>', 'side of the stored square images (default: the stimuli\'s own)', int('--image-size'))
    .option('--max-vertex-distance <mm>', 'voxels farther than this from the mid-thickness surface map to no vertex', '3.6')
    .option('-q, --quiet', 'no progress bar')
    .action(async (o: { nsdRoot: string; subject: number; out: string; stimuli?: string; betaDtype: string; imageSize?: number; maxVertexDistance: string; quiet?: boolean }) => {
      if (o.betaDtype !== 'float16' && o.betaDtype !== 'float32') throw new BundleError('command line', `--beta-dtype ${o.betaDtype}`, { expected: 'float16 or float32' });
      const command = `mirage import nsd-imagery --nsd-root ${o.nsdRoot} --subject ${o.subject} --out ${o.out}`;
      const manifest = await runImport({
        out: o.out,
        quiet: o.quiet,
        signal: ctx.interruptible(),
        build: async (writer, b) => {
          let stimuli: ByteSource | Array<{ name: string; source: ByteSource }> | undefined;
          if (o.stimuli) {
            if ((await stat(o.stimuli)).isDirectory()) {
              const names = (await readdir(o.stimuli)).filter((n) => /\.png$/i.test(n)).sort();
              stimuli = await Promise.all(names.map(async (n) => ({ name: join(o.stimuli!, n), source: await fileSource(join(o.stimuli!, n)) })));
              for (const f of stimuli) b.onSource(f.name);
            } else {
              stimuli = await fileSource(o.stimuli);
              b.onSource(o.stimuli);
            }
          }
          return importNsdImagery({
            tree: fsTree(o.nsdRoot),
            subject: o.subject,
            writer,
            provenance: baseProvenance(command, 'Allen et al. 2022, Nature Neuroscience (NSD); Kneeland et al. 2025, CVPR (NSD-Imagery)'),
            stimuli,
            betaDtype: o.betaDtype as 'float16' | 'float32',
            imageSize: o.imageSize,
            maxVertexDistance: Number(o.maxVertexDistance),
            onSource: onDisk(o.nsdRoot, b.onSource),
            onProgress: b.onProgress,
            signal: b.signal,
          });
        },
      });
      const s = manifest.subjects[0];
      process.stdout.write(`wrote ${o.out}: subject ${s.id}, ${s.voxelCount} voxels, ${manifest.trials.length} trials, ${s.rois.length} ROIs, ${s.surfaces.length} surfaces\n`);
    });

  imp
    .command('mirage-weights')
    .description("MIRAGE's ridge pickles ({'coef': (out_dim, nvox), 'intercept'}) -> reduced-rank float16 heads of a subject")
    .requiredOption('--dir <dir>', 'folder with one pickle per head (file name containing image, text, blurry, retrieval or prompt)')
    .requiredOption('--subject <n>', 'NSD subject number', int('--subject'))
    .requiredOption('--rank <r>', 'rank of each compressed head', int('--rank'))
    .requiredOption('--out <dir>', 'bundle folder to write (replaced atomically)')
    .option('--into <dir>', 'existing bundle with the subject (from `import nsd-imagery`); default: --out')
    .option('--head <name=file...>', 'explicit pickle per head, e.g. --head text=/data/text_ridge.pkl (overrides --dir discovery)')
    .option('--penalty <alpha>', 'ridge penalty the weights were fitted with', '100000')
    .option('--power-iterations <n>', 'randomized SVD power iterations (accuracy vs passes over the weights)', '1')
    .option('--fidelity-trials <n>', 'trials used for the compressed-vs-full R²', '64')
    .option('--fidelity-target <r2>', 'stop the power iterations of a head as soon as its R² reaches this (--power-iterations is then the most)')
    .option('--gemm <kernel>', `block products on: ${GEMMS.join(', ')} (tfjs-wasm measured fastest, bench/results/import.json)`, 'tfjs-wasm')
    .option('-q, --quiet', 'no progress bar')
    .action(async (o: { dir: string; subject: number; rank: number; out: string; into?: string; head?: string[]; penalty: string; powerIterations: string; fidelityTrials: string; fidelityTarget?: string; gemm: string; quiet?: boolean }) => {
      const heads = await discoverHeads(o.dir, o.head ?? []);
      if (!heads.length) throw new BundleError(o.dir, 'no head pickles found', { expected: `files named after a head (${HEAD_NAMES.join(', ')}) ending in .pkl, .pkl3 or .pickle, or --head name=file` });
      if (!GEMMS.includes(o.gemm as GemmName)) throw new BundleError('command line', `--gemm ${o.gemm}`, { expected: GEMMS.join(', ') });
      const fidelityTarget = o.fidelityTarget === undefined ? undefined : Number(o.fidelityTarget);
      if (fidelityTarget !== undefined && !(fidelityTarget > 0 && fidelityTarget <= 1)) throw new BundleError('command line', `--fidelity-target ${o.fidelityTarget}`, { expected: 'an R² in (0, 1]' });
      const command = `mirage import mirage-weights --dir ${o.dir} --subject ${o.subject} --rank ${o.rank} --out ${o.out}`;
      const manifest = await runMirageWeights({
        ...o,
        powerIterations: Number(o.powerIterations),
        fidelityTrials: Number(o.fidelityTrials),
        penalty: Number(o.penalty),
        fidelityTarget,
        gemm: o.gemm as GemmName,
        signal: ctx.interruptible(),
        command,
        files: async (onSource) => {
          const files: HeadFiles[] = [];
          for (const h of heads) {
            onSource(h.pickle);
            const f: HeadFiles = { head: h.head, pickle: await fileSource(h.pickle) };
            if (h.mean) {
              f.targetMean = await fileSource(h.mean);
              onSource(h.mean);
            }
            if (h.std) {
              f.targetStd = await fileSource(h.std);
              onSource(h.std);
            }
            files.push(f);
          }
          return files;
        },
      });
      const s = manifest.subjects.find((x) => x.id === o.subject)!;
      for (const h of s.heads) process.stdout.write(`  ${h.name} [${h.outputShape.join('x')}] rank ${h.rank}: fidelity R² ${h.fidelity.r2.toFixed(4)} on ${h.fidelity.trials} trials\n`);
      process.stdout.write(`wrote ${o.out}\n`);
    });
  imp
    .command('recons')
    .description("published reconstructions (MIRAGE's *_all_recons_*.pt (N, reps, 3, H, W), or a tree of PNGs) -> the bundle's reconstructions")
    .requiredOption('--dir <path>', 'a *_all_recons_*.pt file, a folder holding one, or a folder of PNGs (<stimulus>/<rep>.png or <stimulus>_<rep>.png)')
    .requiredOption('--method <name>', 'method name shown in the explorer, e.g. MIRAGE')
    .requiredOption('--subject <n>', 'NSD subject number', int('--subject'))
    .requiredOption('--out <dir>', 'bundle folder to write (replaced atomically)')
    .option('--into <dir>', 'existing bundle to add to; default: --out')
    .option('--condition <c>', 'vision or imagery (default: from the file name)')
    .option('--captions <file>', 'captions: JSON list (of lists) or one line per stimulus (default: a *caption* file next to the tensor)')
    .option('--stimuli <ids>', 'comma-separated stimulus ids of the rows (default 0..N-1)')
    .option('--source <text>', 'where the reconstructions come from (citation or URL)', 'published by the method\'s authors')
    .option('-q, --quiet', 'no progress bar')
    .action(async (o: { dir: string; method: string; subject: number; out: string; into?: string; condition?: string; captions?: string; stimuli?: string; source: string; quiet?: boolean }) => {
      const into = o.into ?? o.out;
      const isDir = (await stat(o.dir)).isDirectory();
      const names = isDir ? (await readdir(o.dir)).sort() : [];
      const ptName = isDir ? names.filter((n) => /_all_recons_.*\.pth?$/.test(n) || /\.pth?$/.test(n)) : [basename(o.dir)];
      if (ptName.length > 1) throw new BundleError(o.dir, `several tensors: ${ptName.join(', ')}`, { expected: 'one *_all_recons_*.pt file (pass its path)' });
      const ptPath = isDir ? (ptName.length ? join(o.dir, ptName[0]) : null) : o.dir;
      const condition = o.condition ?? (/imag/i.test(ptPath ?? o.dir) ? 'imagery' : /vis/i.test(ptPath ?? o.dir) ? 'vision' : undefined);
      if (condition !== 'vision' && condition !== 'imagery') throw new BundleError(o.dir, 'cannot tell the condition', { expected: '--condition vision|imagery (or "imagery"/"vision" in the file name)' });
      const capPath = o.captions ?? (isDir ? names.filter((n) => /caption/i.test(n)).map((n) => join(o.dir, n))[0] : undefined);
      const command = `mirage import recons --dir ${o.dir} --method ${o.method} --subject ${o.subject} --out ${o.out}`;
      const manifest = await runImport({
        out: o.out,
        quiet: o.quiet,
        signal: ctx.interruptible(),
        build: async (writer, b) => {
          let input: ReconInput;
          if (ptPath) {
            input = { kind: 'pt', source: await fileSource(ptPath) };
            b.onSource(ptPath);
          } else {
            const files: Array<{ stimulus: number; rep: number; source: Awaited<ReturnType<typeof fileSource>> }> = [];
            const walk = async (rel: string): Promise<void> => {
              for (const e of (await readdir(join(o.dir, rel), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
                const r = rel ? `${rel}/${e.name}` : e.name;
                if (e.isDirectory()) await walk(r);
                else {
                  const m = /(\d+)[^\d]+(\d+)\.png$/i.exec(r);
                  if (m) {
                    files.push({ stimulus: Number(m[1]), rep: Number(m[2]), source: await fileSource(join(o.dir, r)) });
                    b.onSource(join(o.dir, r));
                  }
                }
              }
            };
            await walk('');
            input = { kind: 'pngs', files };
          }
          let captions: string[][] | undefined;
          if (capPath) {
            captions = parseCaptions(await readRegularText(capPath, { expected: 'a captions text file' }), capPath);
            b.onSource(capPath);
          }
          return importRecons({
            existing: await readExistingBundle(fsTree(into)),
            writer,
            method: o.method,
            subject: o.subject,
            condition,
            input,
            captions,
            stimuli: o.stimuli ? o.stimuli.split(',').map(Number) : undefined,
            source: o.source,
            command,
            onProgress: b.onProgress,
            signal: b.signal,
          });
        },
      });
      const set = manifest.reconstructions!.find((r) => r.method === o.method && r.subject === o.subject && r.condition === condition)!;
      process.stdout.write(`wrote ${o.out}: ${o.method} ${condition} reconstructions of subject ${o.subject}: ${set.images.shape.slice(0, 2).join(' stimuli x ')} reps${set.captions ? ', with captions' : ''}\n`);
    });
  imp
    .command('nsd-betas')
    .description("NSD core-trial betas in MindEye2's layout (betas_all_subjXX_fp32_renorm.hdf5) -> extensions.nsdCoreBetas of a bundle")
    .requiredOption('--hdf5 <file>', 'the HDF5 file')
    .requiredOption('--subject <n>', 'NSD subject number', int('--subject'))
    .requiredOption('--out <dir>', 'bundle folder to write (replaced atomically)')
    .option('--into <dir>', 'existing bundle with the subject; default: --out')
    .option('--dataset <name>', 'dataset name', 'betas')
    .option('--sessions <list>', 'sessions to import, e.g. 1-3,7 (default: all)')
    .option('-q, --quiet', 'no progress bar')
    .action(async (o: { hdf5: string; subject: number; out: string; into?: string; dataset: string; sessions?: string; quiet?: boolean }) => {
      const sessions = o.sessions?.split(',').flatMap((part) => {
        const [a, b] = part.split('-').map(Number);
        return b ? Array.from({ length: b - a + 1 }, (_, i) => a + i) : [a];
      });
      const command = `mirage import nsd-betas --hdf5 ${o.hdf5} --subject ${o.subject} --out ${o.out}`;
      const reader = await openHdf5File(resolve(o.hdf5), o.dataset, o.hdf5);
      try {
        const manifest = await runImport({
          out: o.out,
          quiet: o.quiet,
          signal: ctx.interruptible(),
          build: async (writer, b) => {
            b.onSource(o.hdf5);
            return importNsdBetas({ existing: await readExistingBundle(fsTree(o.into ?? o.out)), writer, reader, subject: o.subject, sessions, command, onProgress: b.onProgress, signal: b.signal });
          },
        });
        const ext = manifest.extensions?.nsdCoreBetas as { sessions: unknown[] };
        process.stdout.write(`wrote ${o.out}: ${ext.sessions.length} sessions of NSD core betas for subject ${o.subject}\n`);
      } finally {
        reader.close();
      }
    });
}
