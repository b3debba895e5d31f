// Voxel <-> vertex maps. A bundle's voxelToVertex (int32 [nVox, 2] = (hemi 0|1, vertex), -1 = none)
// ties each voxel to one surface vertex. Surfaces have many more vertices than voxels, so most
// vertices carry no voxel: they take the value of the nearest mapped vertex on the mesh graph
// (breadth-first hops), which paints each voxel as a small patch rather than a speck.
import { BundleError } from '../base/errors.ts';
import { meshGraph, nearestSource, type MeshGraph } from './mesh.ts';

export interface HemiMesh {
  vertexCount: number;
  faces: Int32Array;
}

export interface HemiMap {
  graph: MeshGraph;
  /** CSR vertex -> voxels mapped onto it. */
  voxOffsets: Int32Array;
  voxels: Int32Array;
  /** Nearest vertex that has a voxel (itself when mapped); -1 if none reachable. */
  nearestMapped: Int32Array;
}

export class VoxelVertexMap {
  readonly voxelCount: number;
  readonly hemis: HemiMap[];
  /** Per voxel: hemisphere (0/1, -1 none) and vertex. */
  readonly voxelHemi: Int32Array;
  readonly voxelVertex: Int32Array;

  constructor(voxelToVertex: Int32Array, voxelCount: number, meshes: HemiMesh[], file = 'voxelToVertex') {
    if (voxelToVertex.length !== voxelCount * 2) {
      throw new BundleError(file, `has ${voxelToVertex.length} values`, { expected: `int32 [${voxelCount}, 2]` });
    }
    this.voxelCount = voxelCount;
    this.voxelHemi = new Int32Array(voxelCount);
    this.voxelVertex = new Int32Array(voxelCount);
    const counts = meshes.map((m) => new Int32Array(m.vertexCount + 1));
    for (let i = 0; i < voxelCount; i++) {
      const h = voxelToVertex[2 * i];
      const v = voxelToVertex[2 * i + 1];
      if (h === -1 || v === -1) {
        this.voxelHemi[i] = -1;
        this.voxelVertex[i] = -1;
        continue;
      }
      if (h < 0 || h >= meshes.length) throw new BundleError(file, `voxel ${i}: hemisphere ${h}`, { field: `[${i}][0]`, expected: `0..${meshes.length - 1} or -1` });
      if (v < 0 || v >= meshes[h].vertexCount) {
        throw new BundleError(file, `voxel ${i}: vertex ${v}`, { field: `[${i}][1]`, expected: `0..${meshes[h].vertexCount - 1} or -1` });
      }
      this.voxelHemi[i] = h;
      this.voxelVertex[i] = v;
      counts[h][v + 1]++;
    }
    this.hemis = meshes.map((m, h) => {
      const off = counts[h];
      for (let v = 0; v < m.vertexCount; v++) off[v + 1] += off[v];
      const fill = off.slice(0, m.vertexCount);
      const vox = new Int32Array(off[m.vertexCount]);
      for (let i = 0; i < voxelCount; i++) if (this.voxelHemi[i] === h) vox[fill[this.voxelVertex[i]]++] = i;
      const graph = meshGraph(m.faces, m.vertexCount, `${file}: faces of hemisphere ${h}`);
      const nearestMapped = nearestSource(graph, (v) => off[v + 1] > off[v]);
      return { graph, voxOffsets: off, voxels: vox, nearestMapped };
    });
  }

  /**
   * Per-vertex values of one hemisphere from per-voxel values: the mean over the voxels on a
   * vertex, or the nearest mapped vertex's value; NaN where no mapped vertex is reachable.
   */
  vertexValues(voxelValues: ArrayLike<number>, hemi: number, out?: Float32Array): Float32Array {
    const m = this.hemis[hemi];
    const n = m.graph.vertexCount;
    const own = new Float32Array(n);
    for (let v = 0; v < n; v++) {
      const a = m.voxOffsets[v];
      const b = m.voxOffsets[v + 1];
      if (a === b) continue;
      let s = 0;
      for (let k = a; k < b; k++) s += voxelValues[m.voxels[k]];
      own[v] = s / (b - a);
    }
    const res = out ?? new Float32Array(n);
    for (let v = 0; v < n; v++) {
      const src = m.nearestMapped[v];
      res[v] = src < 0 ? NaN : own[src];
    }
    return res;
  }

  /** The voxels shown at a vertex (those of its nearest mapped vertex); empty when none. */
  voxelsAtVertex(hemi: number, vertex: number): Int32Array {
    const m = this.hemis[hemi];
    const src = m.nearestMapped[vertex];
    if (src < 0) return new Int32Array(0);
    return m.voxels.slice(m.voxOffsets[src], m.voxOffsets[src + 1]);
  }

  /** 1 for every vertex of a hemisphere that displays one of `voxels` (membership mask). */
  vertexMask(voxels: ArrayLike<number>, hemi: number): Uint8Array {
    const inSet = new Uint8Array(this.voxelCount);
    for (let i = 0; i < voxels.length; i++) inSet[voxels[i]] = 1;
    const m = this.hemis[hemi];
    const mask = new Uint8Array(m.graph.vertexCount);
    for (let v = 0; v < mask.length; v++) {
      const src = m.nearestMapped[v];
      if (src < 0) continue;
      for (let k = m.voxOffsets[src]; k < m.voxOffsets[src + 1]; k++) {
        if (inSet[m.voxels[k]]) {
          mask[v] = 1;
          break;
        }
      }
    }
    return mask;
  }

  /** The voxels displayed on any of the given vertices of a hemisphere (e.g. a brush stroke). */
  voxelsOfVertices(hemi: number, vertices: ArrayLike<number>): Int32Array {
    const set = new Set<number>();
    for (let i = 0; i < vertices.length; i++) for (const x of this.voxelsAtVertex(hemi, vertices[i])) set.add(x);
    return Int32Array.from([...set].sort((a, b) => a - b));
  }
}
