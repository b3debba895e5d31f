import { describe, expect, it } from 'vitest';
import { layoutLabels, leaderEnd, type LabelRequest } from '../../../src/core/evaluate/labelLayout.ts';
import { PUBLISHED_TABLE1 } from '../../../src/core/evaluate/published.ts';

const bounds = { left: 60, top: 30, right: 500, bottom: 310 };

function overlap(a: { left: number; top: number; width: number; height: number }, b: typeof a): boolean {
  return a.left < b.left + b.width && b.left < a.left + a.width && a.top < b.top + b.height && b.top < a.top + a.height;
}

describe('scatter label layout', () => {
  it('places the tight published cluster (plus a far bundle point) without overlaps, inside the plot', () => {
    for (const metric of ['pixcorr', 'ssim', 'alex2', 'clip', 'eff'] as const) {
      const pts = PUBLISHED_TABLE1.map((p) => ({ v: p.vision[metric], i: p.imagery[metric], name: p.method }));
      pts.push({ v: pts[0].v * 3 + 0.2, i: pts[0].i * 3 + 0.2, name: 'MIRAGE pipeline (this session)' });
      const lo = Math.min(...pts.flatMap((p) => [p.v, p.i]));
      const hi = Math.max(...pts.flatMap((p) => [p.v, p.i]));
      const sx = (v: number) => bounds.left + ((v - lo) / (hi - lo)) * (bounds.right - bounds.left - 40) + 20;
      const sy = (v: number) => bounds.bottom - ((v - lo) / (hi - lo)) * (bounds.bottom - bounds.top - 40) - 20;
      const req: LabelRequest[] = pts.map((p) => ({ x: sx(p.v), y: sy(p.i), width: p.name.length * 6.2, height: 12 }));
      const out = layoutLabels(req, bounds);
      expect(out.every((b) => b.free)).toBe(true);
      for (let a = 0; a < out.length; a++) {
        const b = out[a];
        expect(b.left).toBeGreaterThanOrEqual(bounds.left);
        expect(b.left + b.width).toBeLessThanOrEqual(bounds.right);
        expect(b.top).toBeGreaterThanOrEqual(bounds.top);
        expect(b.top + b.height).toBeLessThanOrEqual(bounds.bottom);
        for (let c = a + 1; c < out.length; c++) expect(overlap(b, out[c]), `${metric}: ${pts[a].name} / ${pts[c].name}`).toBe(false);
        // no label covers any marker
        for (const p of req) expect(overlap(b, { left: p.x - 5, top: p.y - 5, width: 10, height: 10 })).toBe(false);
      }
    }
  });

  it('keeps an isolated label next to its point (no leader line) and ends leaders on the box', () => {
    const [b] = layoutLabels([{ x: 200, y: 200, width: 50, height: 12 }], bounds);
    expect(b.leader).toBe(false);
    expect(Math.hypot(b.left + b.width / 2 - 200, b.top + b.height / 2 - 200)).toBeLessThan(50);
    expect(leaderEnd(0, 0, { left: 10, top: 20, width: 5, height: 5 })).toEqual({ x: 10, y: 20 });
  });

  it('says when no free spot exists', () => {
    const tiny = { left: 0, top: 0, right: 40, bottom: 40 };
    const out = layoutLabels([{ x: 20, y: 20, width: 35, height: 12 }, { x: 22, y: 22, width: 35, height: 12 }], tiny);
    expect(out.some((b) => !b.free)).toBe(true);
  });
});
