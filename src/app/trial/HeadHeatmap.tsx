// One decoder head's output as a heatmap: rows are tokens/layers for 2-D outputs ([77, 1280] text
// tokens, [257, 1024] hidden states); a 1-D output (the 768-d image embedding) is wrapped into rows.
// Colour: diverging blue–red around 0, limits at the 99th percentile of |value| (d3 scale).
import { useEffect, useMemo, useRef } from 'react';
import * as d3 from 'd3';
import type { Head } from '../../core/bundle/manifest.ts';
import type { HeadPrediction } from '../../core/decode/protocol.ts';
import { formatNum } from '../common/format.ts';

const MAX_W = 512;
const MAX_H = 160;
const EMPTY = [0x20, 0x24, 0x2c];

function layout(outputShape: number[], n: number): { rows: number; cols: number } {
  if (outputShape.length >= 2) {
    const cols = outputShape[outputShape.length - 1];
    return { rows: n / cols, cols };
  }
  const cols = Math.min(n, Math.max(16, Math.ceil(Math.sqrt(n * 4))));
  return { rows: Math.ceil(n / cols), cols };
}

function robustLimit(v: Float32Array): number {
  const step = Math.max(1, Math.floor(v.length / 20000));
  const sample: number[] = [];
  for (let i = 0; i < v.length; i += step) if (Number.isFinite(v[i])) sample.push(Math.abs(v[i]));
  sample.sort((a, b) => a - b);
  return sample.length ? sample[Math.floor(0.99 * (sample.length - 1))] || 1 : 1;
}

export function HeadHeatmap({ head, prediction }: { head: Head; prediction: HeadPrediction }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const per = prediction.values.length / prediction.rows;
  const row = useMemo(() => prediction.values.subarray(0, per), [prediction, per]);
  const { rows, cols } = layout(prediction.outputShape, per);
  const limit = useMemo(() => robustLimit(row), [row]);
  // Canvas pixels: at most MAX_W x MAX_H cells, each the mean of the values it covers.
  const w = Math.min(cols, MAX_W);
  const h = Math.min(rows, MAX_H);
  useEffect(() => {
    const c = canvas.current;
    if (!c) return;
    c.width = w;
    c.height = h;
    // CPU-backed (see TensorImage): putImageData without a wait on the GPU process.
    const ctx = c.getContext('2d', { willReadFrequently: true });
    if (!ctx) return;
    // 256 colours of the ramp made once: a d3 colour string per pixel costs ~1 µs each, too much for
    // a 512x160 map on the main thread. +limit -> red (t = 0), 0 -> white, -limit -> blue (t = 1).
    const lut = new Uint8Array(256 * 3);
    for (let i = 0; i < 256; i++) {
      const c = d3.rgb(d3.interpolateRdBu(i / 255));
      lut.set([c.r, c.g, c.b], 3 * i);
    }
    const img = ctx.createImageData(w, h);
    const sum = new Float64Array(w * h);
    const cnt = new Uint32Array(w * h);
    for (let r = 0; r < rows; r++) {
      const y = Math.floor((r * h) / rows);
      for (let k = 0; k < cols; k++) {
        const i = r * cols + k;
        if (i >= row.length) break;
        const x = Math.floor((k * w) / cols);
        sum[y * w + x] += row[i];
        cnt[y * w + x]++;
      }
    }
    for (let p = 0; p < w * h; p++) {
      if (cnt[p]) {
        const t = Math.round(Math.min(1, Math.max(0, (limit - sum[p] / cnt[p]) / (2 * limit))) * 255);
        img.data.set(lut.subarray(3 * t, 3 * t + 3), 4 * p);
      } else img.data.set(EMPTY, 4 * p); // no value in this cell
      img.data[4 * p + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }, [row, rows, cols, w, h, limit]);
  const shape = prediction.outputShape.join(' × ');
  return (
    <figure className="heatmap" data-testid={`head-${head.name}`}>
      <figcaption className="heatmap__caption">
        <span className="heatmap__name">{head.name}</span>
        <span className="muted">
          {shape} · rank {head.rank} · α = {head.penalty.toExponential(0)} · fidelity R² {formatNum(head.fidelity.r2, 3)}
        </span>
      </figcaption>
      <canvas ref={canvas} className="heatmap__canvas" style={{ aspectRatio: `${w} / ${Math.max(h, Math.round(w / 8))}` }} aria-label={`${head.name} decoded ${shape}`} />
      <div className="heatmap__legend">
        <span>−{formatNum(limit, 2)}</span>
        <span className="heatmap__ramp" />
        <span>+{formatNum(limit, 2)}</span>
        <span className="muted heatmap__role">{head.role} (decoder output, target-feature units)</span>
      </div>
    </figure>
  );
}
