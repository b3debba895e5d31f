// The mesh graph of one hemisphere: vertex adjacency (CSR) from the triangle list, and the
// graph searches the cortex view needs (nearest mapped vertex, vertices within a radius).
export interface MeshGraph {
  vertexCount: number;
  /** CSR: neighbours of v are `neighbors[offsets[v] .. offsets[v+1])`. */
  offsets: Int32Array;
  neighbors: Int32Array;
}

/** Builds vertex adjacency from int32 [nFaces, 3] faces. Throws on indices outside [0, vertexCount). */
export function meshGraph(faces: Int32Array, vertexCount: number, label = 'faces'): MeshGraph {
  if (faces.length % 3 !== 0) throw new RangeError(`${label}: length ${faces.length} is not a multiple of 3`);
  const deg = new Int32Array(vertexCount);
  for (let i = 0; i < faces.length; i++) {
    const v = faces[i];
    if (v < 0 || v >= vertexCount) throw new RangeError(`${label}[${Math.floor(i / 3)}]: vertex ${v} outside [0, ${vertexCount})`);
  }
  // Each triangle edge is stored in both directions; duplicates (shared edges) are removed below.
  for (let f = 0; f < faces.length; f += 3) {
    for (let e = 0; e < 3; e++) deg[faces[f + e]] += 2;
  }
  const raw = new Int32Array(vertexCount + 1);
  for (let v = 0; v < vertexCount; v++) raw[v + 1] = raw[v] + deg[v];
  const fill = raw.slice(0, vertexCount);
  const tmp = new Int32Array(raw[vertexCount]);
  for (let f = 0; f < faces.length; f += 3) {
    for (let e = 0; e < 3; e++) {
      const a = faces[f + e];
      const b = faces[f + ((e + 1) % 3)];
      const c = faces[f + ((e + 2) % 3)];
      tmp[fill[a]++] = b;
      tmp[fill[a]++] = c;
    }
  }
  const offsets = new Int32Array(vertexCount + 1);
  const out: number[] = [];
  for (let v = 0; v < vertexCount; v++) {
    const list = Array.from(tmp.subarray(raw[v], raw[v + 1])).sort((x, y) => x - y);
    for (let i = 0; i < list.length; i++) if (i === 0 || list[i] !== list[i - 1]) out.push(list[i]);
    offsets[v + 1] = out.length;
  }
  return { vertexCount, offsets, neighbors: Int32Array.from(out) };
}

/**
 * For every vertex, the nearest vertex (in graph hops, ties to the smaller search order) whose
 * `isSource` is true; -1 where no source is reachable. Multi-source breadth-first search.
 */
export function nearestSource(g: MeshGraph, isSource: (v: number) => boolean): Int32Array {
  const near = new Int32Array(g.vertexCount).fill(-1);
  const queue = new Int32Array(g.vertexCount);
  let head = 0;
  let tail = 0;
  for (let v = 0; v < g.vertexCount; v++) {
    if (isSource(v)) {
      near[v] = v;
      queue[tail++] = v;
    }
  }
  while (head < tail) {
    const v = queue[head++];
    for (let k = g.offsets[v]; k < g.offsets[v + 1]; k++) {
      const w = g.neighbors[k];
      if (near[w] === -1) {
        near[w] = near[v];
        queue[tail++] = w;
      }
    }
  }
  return near;
}

/** Euclidean distance between vertices a and b of float32 [n, 3] positions. */
export function vertexDistance(pos: Float32Array, a: number, b: number): number {
  const dx = pos[3 * a] - pos[3 * b];
  const dy = pos[3 * a + 1] - pos[3 * b + 1];
  const dz = pos[3 * a + 2] - pos[3 * b + 2];
  return Math.sqrt(dx * dx + dy * dy + dz * dz);
}

/** Vertices whose Euclidean distance to `center` is at most `radius` (on the given shape). */
export function verticesWithin(pos: Float32Array, center: number, radius: number): Int32Array {
  const n = pos.length / 3;
  const out: number[] = [];
  for (let v = 0; v < n; v++) if (vertexDistance(pos, v, center) <= radius) out.push(v);
  return Int32Array.from(out);
}

/** Vertices inside `mask` with at least one neighbour outside it: the drawn outline of a region. */
export function boundaryVertices(g: MeshGraph, mask: Uint8Array): Int32Array {
  const out: number[] = [];
  for (let v = 0; v < g.vertexCount; v++) {
    if (!mask[v]) continue;
    for (let k = g.offsets[v]; k < g.offsets[v + 1]; k++) {
      if (!mask[g.neighbors[k]]) {
        out.push(v);
        break;
      }
    }
  }
  return Int32Array.from(out);
}

/**
 * A vertex mask as a smooth per-vertex field in [0, 1]: each pass moves every value halfway to the
 * mean of its face neighbours. Its 0.5 level is the region's boundary without the triangle-by-triangle
 * staircase that a binary mask's contour follows (the jagged ROI outlines of the cortex view).
 */
export function smoothMaskField(faces: ArrayLike<number>, mask: Uint8Array, passes = 2): Float32Array {
  let f = Float32Array.from(mask, (m) => (m ? 1 : 0));
  const sum = new Float32Array(f.length);
  const count = new Uint32Array(f.length);
  for (let pass = 0; pass < passes; pass++) {
    sum.fill(0);
    count.fill(0);
    for (let i = 0; i < faces.length; i += 3) {
      const a = faces[i];
      const b = faces[i + 1];
      const c = faces[i + 2];
      sum[a] += f[b] + f[c];
      sum[b] += f[a] + f[c];
      sum[c] += f[a] + f[b];
      count[a] += 2;
      count[b] += 2;
      count[c] += 2;
    }
    const next = new Float32Array(f.length);
    for (let v = 0; v < f.length; v++) next[v] = count[v] ? 0.5 * f[v] + (0.5 * sum[v]) / count[v] : f[v];
    f = next;
  }
  return f;
}

/** Segments of an iso-line: endpoint k lies at ends[2k] + t[k]·(ends[2k+1] − ends[2k]) on the mesh. */
export interface IsoContour {
  /** Vertex pairs (a, b) of the edge each endpoint lies on; two endpoints per segment. */
  ends: Int32Array;
  /** Position along each edge, 0 at a and 1 at b. */
  t: Float32Array;
}

/**
 * The line where a per-vertex field crosses `level`, marching-triangles style: every face whose
 * vertices lie on both sides contributes one segment joining the crossing points of its two mixed
 * edges, each placed by linear interpolation of the field (a binary mask at level 0.5 gives the
 * edge midpoints). The caller places the points on whatever shape it shows.
 */
export function isoContour(faces: ArrayLike<number>, field: ArrayLike<number>, level = 0.5): IsoContour {
  const ends: number[] = [];
  const t: number[] = [];
  const push = (a: number, b: number) => {
    ends.push(a, b);
    t.push((level - field[a]) / (field[b] - field[a]));
  };
  for (let f = 0; f < faces.length; f += 3) {
    const a = faces[f];
    const b = faces[f + 1];
    const c = faces[f + 2];
    const ia = field[a] >= level;
    const ib = field[b] >= level;
    const ic = field[c] >= level;
    const n = +ia + +ib + +ic;
    if (n === 0 || n === 3) continue;
    // The odd vertex out is on both mixed edges.
    const odd = n === 1 ? (ia ? a : ib ? b : c) : !ia ? a : !ib ? b : c;
    const [p, q] = odd === a ? [b, c] : odd === b ? [c, a] : [a, b];
    push(odd, p);
    push(odd, q);
  }
  return { ends: Int32Array.from(ends), t: Float32Array.from(t) };
}
