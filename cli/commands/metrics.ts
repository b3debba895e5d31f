// `mirage metrics --gt A.png --recon B.png [--size 512] [--no-antialias] [--json]`: every pixel
// metric of one pair, computed exactly as MIRAGE's evaluation does (see docs/metrics.md).
import type { Command } from 'commander';
import { BundleError } from '../../src/core/base/errors.ts';
import { MIRAGE_EVAL_SIZE, pixelMetrics } from '../../src/core/evaluate/pixelSuite.ts';
import { DEMO_METRIC_LABEL, buildDemoMetricPack } from '../../src/core/evaluate/demoMetricPack.ts';
import { writeAtomically } from '../../src/node/atomic.ts';
import { readPngImage } from '../../src/node/files.ts';
import { FsShardSource } from '../../src/node/fsSource.ts';
import type { CommandContext } from '../context.ts';

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('metric-pack')
    .description('build a metric pack')
    .command('demo')
    .description(`the demo metric pack from \`mirage demo\` output: its image encoder as the CLIP column (${DEMO_METRIC_LABEL})`)
    .requiredOption('--bundle <dir>', 'demo bundle folder (with models/models.json)')
    .requiredOption('--out <dir>', 'metric pack folder to write (metricpack.json + clip.onnx)')
    .action(async (o: { bundle: string; out: string }) => {
      const manifest = await writeAtomically(o.out, (sink) =>
        buildDemoMetricPack(new FsShardSource(o.bundle), sink, { command: `mirage metric-pack demo --bundle ${o.bundle} --out ${o.out}` }),
        { signal: ctx.interruptible() },
      );
      process.stderr.write(`wrote ${o.out}: ${manifest.name}, networks ${Object.keys(manifest.networks).join(', ')} (${manifest.provenance.kind})\n`);
    });
  program
    .command('metrics')
    .description('pixel metrics (PixCorr, SSIM) of one ground-truth / reconstruction pair, as MIRAGE computes them')
    .requiredOption('--gt <png>', 'ground-truth image (PNG)')
    .requiredOption('--recon <png>', 'reconstruction (PNG)')
    .option('--size <n>', `resize the shorter edge to n before measuring (MIRAGE ${MIRAGE_EVAL_SIZE}, MindEye 425)`, String(MIRAGE_EVAL_SIZE))
    .option('--no-antialias', 'resize without antialiasing (torchvision < 0.17 behaviour)')
    .option('--json', 'print one JSON object')
    .action(async (opts: { gt: string; recon: string; size: string; antialias: boolean; json?: boolean }) => {
      const size = Number(opts.size);
      if (!Number.isInteger(size) || size < 11) throw new BundleError('--size', `got "${opts.size}"`, { expected: 'an integer >= 11 (the SSIM window)' });
      const [gt, recon] = await Promise.all([readPngImage(opts.gt), readPngImage(opts.recon)]);
      const m = pixelMetrics(gt, recon, { size, antialias: opts.antialias });
      const out = {
        pixcorr: m.pixcorr,
        ssim: m.ssim,
        size: m.size,
        antialias: m.antialias,
        resize: 'bilinear (torch interpolate, align_corners=False), shorter edge',
        gt: { path: opts.gt, width: gt.width, height: gt.height },
        recon: { path: opts.recon, width: recon.width, height: recon.height },
      };
      if (opts.json) process.stdout.write(`${JSON.stringify(out)}\n`);
      else {
        process.stdout.write(`PixCorr ${m.pixcorr.toFixed(6)} (Pearson r)\nSSIM    ${m.ssim.toFixed(6)}\n`);
        process.stdout.write(`(both images resized to shorter edge ${m.size}, bilinear${m.antialias ? ', antialiased' : ''})\n`);
      }
    });
}
