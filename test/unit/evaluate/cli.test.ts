import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodePng } from '../../../src/core/tensor/png.ts';
import { array, cases } from './fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'mirage-metrics-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writePng(name: string): string {
  const { info, data } = array(name);
  const file = join(dir, `${name}.png`);
  writeFileSync(file, encodePng(data as Uint8Array, info.shape[1], info.shape[0], 3));
  return file;
}

describe('mirage metrics --json', () => {
  it('prints pixcorr and ssim equal to the Python reference (512, antialiased)', () => {
    const c = cases.pipeline.find((x: { gt: string; size: number }) => x.gt === 'stim4_u8' && x.size === 512);
    const out = execFileSync(process.execPath, ['bin/mirage.js', 'metrics', '--gt', writePng(c.gt), '--recon', writePng(c.recon), '--json'], {
      encoding: 'utf8',
    });
    const j = JSON.parse(out);
    expect(Math.abs(j.pixcorr - c.pixcorr)).toBeLessThan(1e-6);
    expect(Math.abs(j.ssim - c.ssim)).toBeLessThan(1e-6);
    expect(j.size).toBe(512);
  }, 180000);
});
