// d3 charts of the cortex panel: the overlay's colour bar, per-head size of change, the image
// head's cosine similarity to every stimulus (before as outlines, after as bars), and the lesion
// profile (vision vs imagery). d3 makes the scales and ticks; React draws the SVG. `width` is the
// viewBox width: the card's measured width outside presentation mode (one unit = one px, so text
// is drawn at its font size), a fixed width scaled to the grid cell in presentation mode.
import * as d3 from 'd3';
import { useId } from 'react';
import type { Manifest } from '../../core/bundle/manifest.ts';
import type { CortexUpdate, LesionCell } from '../../core/cortex/protocol.ts';
import type { ColorScale } from './colors.ts';

export function ColorBar({ scale, width = 260 }: { scale: ColorScale | null; width?: number }) {
  const id = useId().replace(/:/g, '');
  if (!scale) return null;
  const x = d3.scaleLinear().domain(scale.domain).range([0, width]);
  const ticks = x.ticks(5);
  const stops = d3.range(0, 1.0001, 0.1);
  // room each side for half of a tick label ("−0.40" at the bar's ends was cut by the SVG's edge)
  const pad = 24;
  return (
    <div data-testid="cortex-colorbar">
      <svg className="colorbar" width={width + 2 * pad} height={34}>
        <defs>
          <linearGradient id={`cb${id}`}>
            {stops.map((t) => (
              <stop key={t} offset={`${t * 100}%`} stopColor={scale.interpolator(t)} />
            ))}
          </linearGradient>
        </defs>
        <g transform={`translate(${pad},2)`}>
          <rect width={width} height={12} fill={`url(#cb${id})`} rx={2} />
          {ticks.map((t) => (
            <g key={t} transform={`translate(${x(t)},12)`}>
              <line y2={4} stroke="#97a3b3" />
              <text y={16} textAnchor="middle" fill="#c9d6e6" fontSize={14}>
                {d3.format('~g')(t)}
              </text>
            </g>
          ))}
        </g>
      </svg>
      {/* HTML, not SVG text: the label is wider than the bar and wraps instead of being cut */}
      <div className="cortex__colorbar-label" style={{ maxWidth: width + 2 * pad }}>
        {scale.label}
      </div>
    </div>
  );
}

const FONT = 14;

/** A caption broken into lines that fit `width` px (an average glyph is ~0.58 em wide in the UI font). */
export function captionLines(text: string, width: number, fontSize = FONT): string[] {
  const perLine = Math.max(12, Math.floor(width / (0.58 * fontSize)));
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > perLine) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** A muted caption at (x, y) for its first line, further lines below it. */
function Caption({ lines, x, y }: { lines: string[]; x: number; y: number }) {
  return (
    <text x={x} y={y} fill="#97a3b3" fontSize={FONT}>
      {lines.map((l, i) => (
        <tspan key={i} x={x} dy={i === 0 ? 0 : FONT + 3}>
          {l}
        </tspan>
      ))}
    </text>
  );
}
const captionExtra = (lines: string[]) => (lines.length - 1) * (FONT + 3);

/** Shown while the worker computes the first update for the current selection (never a claim about the bundle). */
export function ChartPending({ what }: { what: string }) {
  return (
    <div className="muted cortex__pending" role="status" data-testid="cortex-pending">
      Computing {what}…
    </div>
  );
}

export function HeadChangeChart({ update, width = 300 }: { update: CortexUpdate | null; width?: number }) {
  if (!update) return <ChartPending what="the change of each decoder head" />;
  const rows = update.heads;
  const rowH = 24;
  const left = 70;
  const max = Math.max(0.05, d3.max(rows, (r) => r.relNorm) ?? 0);
  const x = d3.scaleLinear().domain([0, max]).nice().range([0, width - left - 50]);
  const caption = captionLines('|Δ| / |prediction|, this trial (exact)', width - 6);
  return (
    <svg viewBox={`0 0 ${width} ${rows.length * rowH + 22 + captionExtra(caption)}`} style={{ width: '100%', maxWidth: width * 1.4 }} data-testid="cortex-head-change">
      {rows.map((r, i) => (
        <g key={r.head} transform={`translate(0,${i * rowH})`} data-head={r.head} data-relnorm={r.relNorm}>
          <text x={left - 8} y={15} textAnchor="end" fill="#e8edf3" fontSize={14}>
            {r.head}
          </text>
          <rect x={left} y={4} width={Math.max(1, x(r.relNorm))} height={14} fill="#5fb3ff" rx={2} />
          <text x={left + x(r.relNorm) + 6} y={15} fill="#c9d6e6" fontSize={14}>
            {(100 * r.relNorm).toFixed(1)}%
          </text>
        </g>
      ))}
      <Caption lines={caption} x={6} y={rows.length * rowH + 16} />
    </svg>
  );
}

export function StimulusCosineChart({ update, manifest, trueStimulus, targetStimulus, width = 560 }: { update: CortexUpdate | null; manifest: Manifest; trueStimulus: number; targetStimulus?: number | null; width?: number }) {
  if (!update) return <ChartPending what="the image head's similarity to each stimulus" />;
  if (!update.cosAfter.length) {
    const why = update.heads.some((h) => h.head === 'image') ? 'The bundle has no image-head features of the stimuli' : 'This subject has no image head';
    return (
      <div className="muted" data-testid="cortex-cosines-none">
        {why}, so the stimuli cannot be ranked.
      </div>
    );
  }
  const ids = update.stimulusIds;
  const h = 190;
  const top = 10;
  const bottom = 40;
  const left = 54; // room for a negative tick label ("−0.40" at 14 px was cut at 40)
  const all = [...update.cosBefore, ...update.cosAfter];
  const lo = Math.min(0, d3.min(all) ?? 0);
  const hi = Math.max(0.05, d3.max(all) ?? 1);
  const x = d3.scaleBand<number>().domain(ids).range([left, width - 6]).padding(0.18);
  const y = d3.scaleLinear().domain([lo, hi]).nice().range([h - bottom, top]);
  const cue = (id: number) => manifest.stimuli.find((s) => s.id === id)?.cue ?? String(id);
  const name = (id: number) => manifest.stimuli.find((s) => s.id === id)?.name ?? `stimulus ${id}`;
  const caption = captionLines(`image-head cosine: bars after, dashed before · green true${targetStimulus != null ? ' · orange target' : ''}`, width - 6);
  return (
    <svg viewBox={`0 0 ${width} ${h + captionExtra(caption)}`} style={{ width: '100%', maxWidth: width * 1.4 }} data-testid="cortex-cosines">
      {y.ticks(4).map((t) => (
        <g key={t} transform={`translate(0,${y(t)})`}>
          <line x1={left} x2={width - 6} stroke="#2a3441" />
          <text x={left - 6} y={4} textAnchor="end" fill="#97a3b3" fontSize={14}>
            {d3.format('.2f')(t)}
          </text>
        </g>
      ))}
      {ids.map((id, i) => {
        const isTrue = id === trueStimulus;
        const isTarget = id === targetStimulus;
        const a = update.cosAfter[i];
        const b = update.cosBefore[i];
        const y0 = y(0);
        return (
          <g key={id} data-stimulus={id} data-cos-after={a} data-cos-before={b}>
            <title>{`${name(id)}: cos ${b.toFixed(3)} → ${a.toFixed(3)}`}</title>
            <rect x={x(id)} width={x.bandwidth()} y={Math.min(y(a), y0)} height={Math.abs(y(a) - y0)} fill={isTrue ? '#4fd1a5' : isTarget ? '#ffb454' : '#5fb3ff'} opacity={0.9} />
            <rect x={x(id)! - 1} width={x.bandwidth() + 2} y={Math.min(y(b), y0)} height={Math.abs(y(b) - y0)} fill="none" stroke="#e8edf3" strokeDasharray="3 2" opacity={0.7} />
            <text x={x(id)! + x.bandwidth() / 2} y={h - bottom + 16} textAnchor="middle" fill={isTrue ? '#4fd1a5' : '#c9d6e6'} fontSize={14} fontWeight={isTrue ? 700 : 400}>
              {cue(id)}
            </text>
          </g>
        );
      })}
      <Caption lines={caption} x={6} y={h - 6} />
    </svg>
  );
}

export function LesionChart({ cells, head, metric, width = 560 }: { cells: LesionCell[] | null; head: string; metric: 'relNorm' | 'cosineChange'; width?: number }) {
  if (!cells) return <ChartPending what="the lesion profile" />;
  const rows = cells.filter((c) => c.head === head);
  if (!rows.length) return <div className="muted">The lesion profile has no ROI for the {head} head.</div>;
  const rois = [...new Set(rows.map((c) => c.roi))];
  const conds = ['vision', 'imagery'] as const;
  const h = 200;
  const left = 44;
  const bottom = 46;
  const x0 = d3.scaleBand<string>().domain(rois).range([left, width - 6]).padding(0.2);
  const x1 = d3.scaleBand<string>().domain([...conds]).range([0, x0.bandwidth()]).padding(0.08);
  const max = d3.max(rows, (c) => c[metric]) ?? 1;
  const y = d3.scaleLinear().domain([0, max || 1]).nice().range([h - bottom, 8]);
  const color = { vision: '#5fb3ff', imagery: '#ffb454' };
  // the caption goes beside the legend when it fits, else on lines under it
  const captionText = `${metric === 'relNorm' ? '|Δ| / |prediction|' : '1 − cos(prediction, lesioned)'} when the ROI is silenced`;
  // (always beside it at the presentation grid's fixed 560 units, whose height is what fits 1280x720)
  const beside = width >= 560 || captionLines(captionText, width - left - 190).length === 1;
  const caption = beside ? [captionText] : captionLines(captionText, width - left);
  const extra = beside ? 0 : captionExtra(caption) + FONT + 3;
  return (
    <svg viewBox={`0 0 ${width} ${h + extra}`} style={{ width: '100%', maxWidth: width * 1.4 }} data-testid="cortex-lesion">
      {y.ticks(4).map((t) => (
        <g key={t} transform={`translate(0,${y(t)})`}>
          <line x1={left} x2={width - 6} stroke="#2a3441" />
          <text x={left - 6} y={4} textAnchor="end" fill="#97a3b3" fontSize={14}>
            {metric === 'relNorm' ? `${Math.round(t * 100)}%` : d3.format('.2f')(t)}
          </text>
        </g>
      ))}
      {rois.map((roi) => (
        <g key={roi} transform={`translate(${x0(roi)},0)`}>
          {conds.map((c) => {
            const cell = rows.find((r) => r.roi === roi && r.condition === c);
            if (!cell) return null;
            return (
              <rect key={c} x={x1(c)} width={x1.bandwidth()} y={y(cell[metric])} height={h - bottom - y(cell[metric])} fill={color[c]}>
                <title>{`${roi}, ${c} (${cell.trials} trials): ${cell[metric].toFixed(3)}`}</title>
              </rect>
            );
          })}
          <text x={x0.bandwidth() / 2} y={h - bottom + 16} textAnchor="middle" fill="#c9d6e6" fontSize={14}>
            {roi}
          </text>
        </g>
      ))}
      <g transform={`translate(${left},${h - 12})`}>
        {conds.map((c, i) => (
          <g key={c} transform={`translate(${i * 90},0)`}>
            <rect width={10} height={10} y={-9} fill={color[c]} />
            <text x={14} fill="#c9d6e6" fontSize={14}>
              {c}
            </text>
          </g>
        ))}
        {beside ? <Caption lines={caption} x={190} y={0} /> : <Caption lines={caption} x={0} y={FONT + 3} />}
      </g>
    </svg>
  );
}
