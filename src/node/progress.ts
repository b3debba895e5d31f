// Progress for long Node work (CLI commands, benches): a bar on a terminal, plain lines otherwise (CI
// logs), one interface.
import cliProgress from 'cli-progress';

export type ProgressFn = (done: number, total: number, label?: string) => void;

export function progressBar(title: string): { update: ProgressFn; stop: () => void } {
  if (!process.stderr.isTTY) {
    let lastPct = -1;
    let lastLabel: string | undefined;
    return {
      update(done, total, label) {
        const pct = total > 0 ? Math.floor((100 * done) / total) : 0;
        if (pct >= lastPct + 10 || label !== lastLabel || done === total) {
          process.stderr.write(`${title}: ${pct}%${label ? ` ${label}` : ''}\n`);
          lastPct = pct;
          lastLabel = label;
        }
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: `${title} [{bar}] {percentage}% | {label} | ETA {eta_formatted}`, hideCursor: true, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, label = '') {
      if (!started) {
        bar.start(total, done, { label });
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, { label });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
