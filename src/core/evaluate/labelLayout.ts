// Collision-avoiding placement of point labels for the dashboard's scatter (published methods sit in
// a tight cluster). Greedy: the most crowded points first, each label tried at growing distances in
// 16 directions around its point; the first box that stays inside the plot and overlaps neither a
// placed label nor any point marker wins. Labels placed away from their point get a leader line.
// Pure geometry (pixel boxes in, boxes out) so the page only measures text and draws.

export interface LabelRequest {
  /** point position (px) */
  x: number;
  y: number;
  /** label box size (px), measured by the caller */
  width: number;
  height: number;
}

export interface PlacedLabel {
  /** top-left of the label box */
  left: number;
  top: number;
  width: number;
  height: number;
  /** true when the box sits far enough from its point to need a leader line */
  leader: boolean;
  /** false if no free spot was found (placed at the nearest spot anyway) */
  free: boolean;
}

export interface Bounds {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

const RADII = [6, 12, 20, 30, 42, 56, 72, 90, 110, 135, 165];
// directions, preferring up-right / right / up-left / left, then the rest
const ANGLES = [30, 0, 150, 180, 60, 120, -30, -150, 90, -90, 15, 165, -15, -165, 45, 135, -45, -135, 75, 105, -60, -120, -75, -105];

function overlaps(a: { left: number; top: number; width: number; height: number }, b: { left: number; top: number; width: number; height: number }, pad: number): boolean {
  return a.left < b.left + b.width + pad && b.left < a.left + a.width + pad && a.top < b.top + b.height + pad && b.top < a.top + a.height + pad;
}

/** Places one label per point (same order as `points`). */
export function layoutLabels(points: LabelRequest[], bounds: Bounds, opts: { markerRadius?: number; pad?: number; leaderFrom?: number } = {}): PlacedLabel[] {
  const mr = opts.markerRadius ?? 6;
  const pad = opts.pad ?? 2;
  const leaderFrom = opts.leaderFrom ?? 14;
  const markers = points.map((p) => ({ left: p.x - mr, top: p.y - mr, width: 2 * mr, height: 2 * mr }));
  const crowd = points.map((p) => points.filter((q) => Math.hypot(q.x - p.x, q.y - p.y) < 60).length);
  const order = points.map((_, i) => i).sort((a, b) => crowd[b] - crowd[a] || points[a].y - points[b].y || a - b);
  const placed: (PlacedLabel | null)[] = points.map(() => null);
  const boxes: PlacedLabel[] = [];
  for (const i of order) {
    const p = points[i];
    let best: PlacedLabel | null = null;
    search: for (const r of RADII) {
      for (const deg of ANGLES) {
        const t = (deg * Math.PI) / 180;
        const c = Math.cos(t);
        const s = Math.sin(t);
        // the box's centre, pushed out so its near edge is ~r beyond the marker
        const cx = p.x + c * (mr + r + p.width / 2);
        const cy = p.y - s * (mr + r + p.height / 2);
        const box = { left: cx - p.width / 2, top: cy - p.height / 2, width: p.width, height: p.height };
        if (box.left < bounds.left || box.top < bounds.top || box.left + box.width > bounds.right || box.top + box.height > bounds.bottom) continue;
        if (boxes.some((b) => overlaps(box, b, pad))) continue;
        if (markers.some((mk) => overlaps(box, mk, pad))) continue;
        best = { ...box, leader: r >= leaderFrom, free: true };
        break search;
      }
    }
    if (!best) {
      // no free spot: the nearest in-bounds spot to the right (or left), overlapping
      const left = Math.min(Math.max(p.x + mr + 4, bounds.left), bounds.right - p.width);
      const top = Math.min(Math.max(p.y - p.height - 2, bounds.top), bounds.bottom - p.height);
      best = { left, top, width: p.width, height: p.height, leader: false, free: false };
    }
    placed[i] = best;
    boxes.push(best);
  }
  return placed as PlacedLabel[];
}

/** Where a leader line from (x, y) meets the label box: the nearest point of the box. */
export function leaderEnd(x: number, y: number, box: Pick<PlacedLabel, 'left' | 'top' | 'width' | 'height'>): { x: number; y: number } {
  return { x: Math.min(Math.max(x, box.left), box.left + box.width), y: Math.min(Math.max(y, box.top), box.top + box.height) };
}
