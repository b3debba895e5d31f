// d3 charts of the dashboard. Data arrives ready (src/core/evaluate/dashboardData.ts); these only draw.
import * as d3 from 'd3';
import { useEffect, useRef } from 'react';
import type { BarDatum, ScatterDatum } from '../../core/evaluate/dashboardData.ts';
import { layoutLabels, leaderEnd } from '../../core/evaluate/labelLayout.ts';
import { downloadPng, downloadSvg } from './exportFiles.ts';
import { PUBLISHED_LABEL } from '../../core/evaluate/published.ts';
import { Button } from '../common/controls.tsx';

const COLORS = { vision: '#5fb3ff', imagery: '#ffb454' } as const;
/** Tick and label sizes in viewBox units (520 wide): two charts side by side draw at 0.77-0.95 of that on 1280-1440 px screens, so 16 stays >= 12 px on screen. */
const TICK_PX = 16;
const LABEL_PX = 16;

/** d3's axes set 10 px text; ours are readable from the back of a room. */
function styleAxis(g: d3.Selection<SVGGElement, unknown, null, undefined>): void {
  g.attr('font-size', TICK_PX);
}

function ExportButtons({ svg, name }: { svg: React.RefObject<SVGSVGElement | null>; name: string }) {
  return (
    <span className="eval-export">
      <Button kind="small" onClick={() => svg.current && downloadSvg(svg.current, `${name}.svg`)}>
        SVG
      </Button>
      <Button kind="small" onClick={() => svg.current && void downloadPng(svg.current, `${name}.png`)}>
        PNG
      </Button>
    </span>
  );
}

/** Vision vs imagery bars per stimulus set, with ± SE error bars. */
export function BarChart(props: { data: BarDatum[]; title: string; subtitle?: string; unit: string; name: string }) {
  const ref = useRef<SVGSVGElement>(null);
  const { data, title, unit } = props;
  useEffect(() => {
    const W = 520;
    const H = 320;
    const m = { top: 60, right: 16, bottom: 44, left: 72 };
    const svg = d3.select(ref.current!);
    svg.selectAll('*').remove();
    svg.attr('viewBox', `0 0 ${W} ${H}`).attr('role', 'img').attr('aria-label', title);
    const sets = [...new Set(data.map((d) => d.set))];
    const x0 = d3.scaleBand().domain(sets).range([m.left, W - m.right]).padding(0.2);
    // only the conditions that have results get a slot and a legend entry (a "vision" entry with no bar read as a zero)
    const conds = (['vision', 'imagery'] as const).filter((c) => data.some((d) => d.condition === c));
    const x1 = d3.scaleBand<string>().domain(conds).range([0, x0.bandwidth()]).padding(0.08);
    const hi = d3.max(data, (d) => d.mean + (Number.isFinite(d.se) ? d.se : 0)) ?? 1;
    const lo = Math.min(0, d3.min(data, (d) => d.mean - (Number.isFinite(d.se) ? d.se : 0)) ?? 0);
    const y = d3.scaleLinear().domain([lo, hi * 1.1 || 1]).nice().range([H - m.bottom, m.top]);
    // the title starts at the left edge (the chart's whole width; the method and source are in the figcaption)
    svg.append('text').attr('x', 8).attr('y', 20).attr('font-size', 18).attr('font-weight', 600).text(title);
    svg.append('g').attr('class', 'axis').attr('transform', `translate(0,${H - m.bottom})`).call(d3.axisBottom(x0)).call(styleAxis);
    svg.append('g').attr('class', 'axis').attr('transform', `translate(${m.left},0)`).call(d3.axisLeft(y).ticks(6)).call(styleAxis);
    svg.append('text').attr('transform', `translate(19,${(H - m.bottom + m.top) / 2}) rotate(-90)`).attr('text-anchor', 'middle').attr('font-size', LABEL_PX).text(unit);
    const g = svg.append('g');
    const bx = (d: BarDatum) => (x0(d.set) ?? 0) + (x1(d.condition) ?? 0);
    g.selectAll('rect')
      .data(data)
      .join('rect')
      .attr('x', bx)
      .attr('width', x1.bandwidth())
      .attr('y', (d) => y(Math.max(0, d.mean)))
      .attr('height', (d) => Math.abs(y(d.mean) - y(0)))
      .attr('fill', (d) => COLORS[d.condition])
      .append('title')
      .text((d) => `${d.condition}, ${d.set}: ${d.mean.toFixed(3)}${Number.isFinite(d.se) ? ` ± ${d.se.toFixed(3)}` : ''} ${unit} (n=${d.n})`);
    const withSe = data.filter((d) => Number.isFinite(d.se));
    g.selectAll('line.err')
      .data(withSe)
      .join('line')
      .attr('class', 'err')
      .attr('x1', (d) => bx(d) + x1.bandwidth() / 2)
      .attr('x2', (d) => bx(d) + x1.bandwidth() / 2)
      .attr('y1', (d) => y(d.mean - d.se))
      .attr('y2', (d) => y(d.mean + d.se))
      .attr('stroke', '#e8edf3');
    const legend = svg.append('g').attr('class', 'legend').attr('transform', `translate(8,34)`);
    (['vision', 'imagery'] as const).forEach((c, i) => {
      const has = conds.includes(c);
      legend.append('rect').attr('x', i * 170).attr('width', 12).attr('height', 12).attr('fill', has ? COLORS[c] : 'none').attr('stroke', COLORS[c]);
      legend.append('text').attr('x', i * 170 + 16).attr('y', 11).attr('font-size', LABEL_PX).attr('data-condition', c).text(has ? c : `${c}: no result`);
    });
  }, [data, title, unit]);
  return (
    <figure className="eval-chart">
      <svg ref={ref} data-testid={`bar-${props.name}`} />
      <figcaption>
        {props.subtitle ? <strong>{props.subtitle}. </strong> : null}Mean ± standard error across samples and repetitions. <ExportButtons svg={ref} name={props.name} />
      </figcaption>
    </figure>
  );
}

/** MIRAGE's main figure: each method's vision score against its imagery score. */
export function ScatterChart(props: { data: ScatterDatum[]; title: string; unit: string; name: string; bundleLabel: string; missing?: string[] }) {
  const ref = useRef<SVGSVGElement>(null);
  const { data, title, unit, bundleLabel } = props;
  useEffect(() => {
    const W = 520;
    const H = 410;
    const m = { top: 34, right: 20, bottom: 76, left: 72 };
    const svg = d3.select(ref.current!);
    svg.selectAll('*').remove();
    svg.attr('viewBox', `0 0 ${W} ${H}`).attr('role', 'img').attr('aria-label', title);
    const all = data.flatMap((d) => [d.vision, d.imagery]);
    const ext = d3.extent(all) as [number, number];
    const pad = (ext[1] - ext[0]) * 0.1 || 0.05;
    const dom: [number, number] = [ext[0] - pad, ext[1] + pad];
    const x = d3.scaleLinear().domain(dom).nice().range([m.left, W - m.right]);
    const y = d3.scaleLinear().domain(dom).nice().range([H - m.bottom, m.top]);
    svg.append('text').attr('x', 8).attr('y', 20).attr('font-size', 18).attr('font-weight', 600).text(title);
    svg.append('g').attr('class', 'axis').attr('transform', `translate(0,${H - m.bottom})`).call(d3.axisBottom(x).ticks(6)).call(styleAxis);
    svg.append('g').attr('class', 'axis').attr('transform', `translate(${m.left},0)`).call(d3.axisLeft(y).ticks(6)).call(styleAxis);
    svg.append('text').attr('x', (m.left + W - m.right) / 2).attr('y', H - m.bottom + 32).attr('text-anchor', 'middle').attr('font-size', LABEL_PX).text(`vision (${unit})`);
    svg.append('text').attr('transform', `translate(19,${(H - m.bottom + m.top) / 2}) rotate(-90)`).attr('text-anchor', 'middle').attr('font-size', LABEL_PX).text(`imagery (${unit})`);
    // y = x: imagery as good as vision
    svg.append('line').attr('x1', x(dom[0])).attr('y1', y(dom[0])).attr('x2', x(dom[1])).attr('y2', y(dom[1])).attr('stroke', '#2a3441').attr('stroke-dasharray', '4 4');
    const g = svg.append('g');
    const pts = g.selectAll('g.pt').data(data).join('g').attr('class', 'pt').attr('transform', (d) => `translate(${x(d.vision)},${y(d.imagery)})`);
    pts
      .filter((d) => d.source === 'published')
      .append('circle')
      .attr('r', 5)
      .attr('fill', '#97a3b3');
    pts
      .filter((d) => d.source === 'bundle')
      .append('path')
      .attr('d', d3.symbol(d3.symbolDiamond, 90)())
      .attr('fill', '#4fd1a5');
    // Labels: measured, then placed without overlaps by layoutLabels (leader lines for labels moved
    // away from a crowded point). Published labels grey, this bundle's green and bold.
    const labelColor = (d: ScatterDatum) => (d.source === 'bundle' ? '#4fd1a5' : '#b8c2cf');
    const labels = svg.append('g').attr('class', 'labels');
    const texts = labels
      .selectAll<SVGTextElement, ScatterDatum>('text')
      .data(data)
      .join('text')
      .attr('font-size', LABEL_PX)
      .attr('font-weight', (d) => (d.source === 'bundle' ? 700 : 400))
      .style('fill', labelColor) // inline style: the chart stylesheet colours svg text
      .attr('data-source', (d) => d.source)
      .text((d) => d.method);
    const sizes = texts.nodes().map((n) => {
      const b = n.getBBox();
      return { width: Math.ceil(b.width) || (n.textContent ?? '').length * 6.2, height: Math.ceil(b.height) || 13 };
    });
    const px = data.map((d) => ({ x: x(d.vision), y: y(d.imagery) }));
    const boxes = layoutLabels(
      px.map((p, i) => ({ ...p, ...sizes[i] })),
      { left: m.left + 2, top: m.top, right: W - m.right, bottom: H - m.bottom - 2 },
    );
    texts.attr('x', (_d, i) => boxes[i].left).attr('y', (_d, i) => boxes[i].top + boxes[i].height - 3);
    labels
      .selectAll('line')
      .data(data.map((d, i) => ({ d, i })).filter(({ i }) => boxes[i].leader))
      .join('line')
      .attr('class', 'leader')
      .attr('x1', ({ i }) => px[i].x)
      .attr('y1', ({ i }) => px[i].y)
      .attr('x2', ({ i }) => leaderEnd(px[i].x, px[i].y, boxes[i]).x)
      .attr('y2', ({ i }) => leaderEnd(px[i].x, px[i].y, boxes[i]).y)
      .attr('stroke', ({ d }) => labelColor(d))
      .attr('stroke-opacity', 0.8)
      .attr('stroke-width', 1);
    pts.append('title').text((d) => `${d.method} (${d.sourceLabel}): vision ${d.vision.toFixed(3)}, imagery ${d.imagery.toFixed(3)}`);
    // two legend lines under the x label, inside the viewBox (the second line's descenders were cut)
    const legend = svg.append('g').attr('class', 'legend').attr('transform', `translate(8,${H - 30})`);
    legend.append('circle').attr('cx', 6).attr('cy', 0).attr('r', 5).attr('fill', '#97a3b3');
    legend.append('text').attr('x', 16).attr('y', 4).attr('font-size', LABEL_PX).text(PUBLISHED_LABEL);
    // The bundle's entry promises a diamond only when one is drawn; otherwise it says why there is none.
    const hasBundle = data.some((d) => d.source === 'bundle');
    legend
      .append('path')
      .attr('transform', 'translate(6,16)')
      .attr('d', d3.symbol(d3.symbolDiamond, 90)())
      .attr('fill', hasBundle ? '#4fd1a5' : 'none')
      .attr('stroke', '#4fd1a5');
    legend
      .append('text')
      .attr('x', 16)
      .attr('y', 20)
      .attr('font-size', LABEL_PX)
      .attr('data-testid', 'scatter-bundle-legend')
      .text(hasBundle ? bundleLabel : `${bundleLabel}: no point yet`);
  }, [data, title, unit, bundleLabel]);
  return (
    <figure className="eval-chart">
      <svg ref={ref} data-testid={`scatter-${props.name}`} />
      <figcaption>
        Grey circles: published results on the real NSD-Imagery data (MIRAGE Table 1); green diamonds: {bundleLabel}, all stimulus sets.
        {props.missing?.length ? <span className="eval-missing"> No point for {props.missing.join('; ')}.</span> : null} <ExportButtons svg={ref} name={props.name} />
      </figcaption>
    </figure>
  );
}
