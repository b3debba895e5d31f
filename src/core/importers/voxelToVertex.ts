// Voxel -> surface vertex mapping: each voxel's centre (voxel indices through the volume's affine,
// in the volume's world space) is matched to the nearest vertex of the subject's mid-thickness
// surface (average of white and pial), both hemispheres, within `maxDistance` mm; beyond it, -1.
// Surfaces from FreeSurfer are in tkregister RAS; adding the surface's c_ras (volume-info footer)
// gives scanner RAS. This is only right when the volume's affine is in that same scanner space —
// see docs/import.md for NSD's caveat.
export interface HemiPoints {
  hemi: 0 | 1;
  /** float32 [n, 3] in the volume's world space. */
  points: Float32Array;
}

export function nearestVertices(centres: Float64Array, hemis: HemiPoints[], maxDistance: number): { map: Int32Array; distances: Float32Array } {
  const n = centres.length / 3;
  const cell = Math.max(maxDistance, 1e-6);
  const grid = new Map<string, number[]>(); // cell -> packed (hemi, vertex) pairs
  for (const h of hemis) {
    const m = h.points.length / 3;
    for (let v = 0; v < m; v++) {
      const key = `${Math.floor(h.points[3 * v] / cell)},${Math.floor(h.points[3 * v + 1] / cell)},${Math.floor(h.points[3 * v + 2] / cell)}`;
      let list = grid.get(key);
      if (!list) grid.set(key, (list = []));
      list.push(h.hemi, v);
    }
  }
  const byHemi = new Map(hemis.map((h) => [h.hemi, h.points]));
  const map = new Int32Array(n * 2).fill(-1);
  const distances = new Float32Array(n).fill(Infinity);
  for (let i = 0; i < n; i++) {
    const x = centres[3 * i], y = centres[3 * i + 1], z = centres[3 * i + 2];
    const cx = Math.floor(x / cell), cy = Math.floor(y / cell), cz = Math.floor(z / cell);
    let best = maxDistance * maxDistance;
    let bh = -1, bv = -1;
    for (let dx = -1; dx <= 1; dx++)
      for (let dy = -1; dy <= 1; dy++)
        for (let dz = -1; dz <= 1; dz++) {
          const list = grid.get(`${cx + dx},${cy + dy},${cz + dz}`);
          if (!list) continue;
          for (let k = 0; k < list.length; k += 2) {
            const pts = byHemi.get(list[k] as 0 | 1)!;
            const v = list[k + 1];
            const d = (pts[3 * v] - x) ** 2 + (pts[3 * v + 1] - y) ** 2 + (pts[3 * v + 2] - z) ** 2;
            if (d <= best && !(d === best && bh >= 0 && (list[k] > bh || (list[k] === bh && v > bv)))) {
              best = d;
              bh = list[k];
              bv = v;
            }
          }
        }
    if (bh >= 0) {
      map[2 * i] = bh;
      map[2 * i + 1] = bv;
      distances[i] = Math.sqrt(best);
    }
  }
  return { map, distances };
}
