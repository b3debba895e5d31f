import { describe, expect, it } from 'vitest';
import { BundleError } from '../../../src/core/base/errors.ts';
import { boundaryVertices, meshGraph, verticesWithin } from '../../../src/core/cortex/mesh.ts';
import { VoxelVertexMap } from '../../../src/core/cortex/vertexMap.ts';
import { gridMesh } from './helpers.ts';

// A 5 x 1 strip of vertices: 0-1-2-3-4 (plus a second row to make triangles: 5..9).
const strip = gridMesh(5, 2);

describe('mesh graph', () => {
  it('neighbours of a grid vertex', () => {
    const g = meshGraph(strip.faces, strip.vertexCount);
    const nb = (v: number) => Array.from(g.neighbors.subarray(g.offsets[v], g.offsets[v + 1]));
    expect(nb(0)).toEqual([1, 5]);
    expect(nb(6)).toEqual([1, 2, 5, 7]);
    expect(() => meshGraph(Int32Array.of(0, 1, 99), 10)).toThrow(/vertex 99/);
  });

  it('radius selection and boundaries', () => {
    expect(Array.from(verticesWithin(strip.positions, 2, 1))).toEqual([1, 2, 3, 7]);
    const g = meshGraph(strip.faces, strip.vertexCount);
    const mask = Uint8Array.from([1, 1, 1, 0, 0, 1, 1, 1, 0, 0]);
    expect(Array.from(boundaryVertices(g, mask))).toEqual([2, 7]);
  });
});

describe('voxel -> vertex values', () => {
  // voxel 0 on lh vertex 0, voxels 1 and 2 on lh vertex 4, voxel 3 on rh vertex 2, voxel 4 unmapped.
  const v2v = Int32Array.of(0, 0, 0, 4, 0, 4, 1, 2, -1, -1);
  const map = new VoxelVertexMap(v2v, 5, [strip, strip]);

  it('averages voxels sharing a vertex and fills unmapped vertices from the nearest mapped one', () => {
    const vals = Float32Array.of(1, 10, 20, 7, 99);
    const lh = map.vertexValues(vals, 0);
    // vertex 0 -> 1; vertex 4 -> mean(10, 20) = 15; vertex 1 is one hop from 0 -> 1; vertex 3 one hop from 4 -> 15
    expect(lh[0]).toBe(1);
    expect(lh[4]).toBe(15);
    expect(lh[1]).toBe(1);
    expect(lh[3]).toBe(15);
    expect(lh[9]).toBe(15); // 9 neighbours 4
    const rh = map.vertexValues(vals, 1);
    expect(Array.from(rh).every((v) => v === 7)).toBe(true);
  });

  it('picks voxels at a vertex, masks ROIs, maps brushed vertices back to voxels', () => {
    expect(Array.from(map.voxelsAtVertex(0, 4))).toEqual([1, 2]);
    expect(Array.from(map.voxelsAtVertex(0, 3))).toEqual([1, 2]);
    const mask = map.vertexMask([0], 0);
    expect(mask[0]).toBe(1);
    expect(mask[1]).toBe(1);
    expect(mask[4]).toBe(0);
    for (let v = 0; v < mask.length; v++) expect(mask[v]).toBe(map.hemis[0].nearestMapped[v] === 0 ? 1 : 0);
    expect(Array.from(map.voxelsOfVertices(0, [0, 4]))).toEqual([0, 1, 2]);
  });

  it('rejects a map that does not fit', () => {
    expect(() => new VoxelVertexMap(Int32Array.of(0, 0), 2, [strip])).toThrow(BundleError);
    expect(() => new VoxelVertexMap(Int32Array.of(0, 10), 1, [strip])).toThrow(/vertex 10/);
    expect(() => new VoxelVertexMap(Int32Array.of(2, 0), 1, [strip, strip])).toThrow(/hemisphere 2/);
  });
});

describe('mask contour', () => {
  it('a binary mask at level 0.5: one segment per mixed face, between midpoints of its mixed edges', async () => {
    const { isoContour } = await import('../../../src/core/cortex/mesh.ts');
    // Strip faces: (0,1,5) (1,6,5) (1,2,6) (2,7,6) ...; mask = left two columns.
    const mask = Uint8Array.from([1, 1, 0, 0, 0, 1, 1, 0, 0, 0]);
    const { ends, t } = isoContour(strip.faces, mask, 0.5);
    // Faces (1,2,6) and (2,7,6) are mixed; (0,1,5) and (1,6,5) are inside; the rest outside.
    expect(t.length / 2).toBe(2);
    expect(ends.length).toBe(2 * t.length);
    for (let k = 0; k < t.length; k++) {
      expect(mask[ends[2 * k]]).not.toBe(mask[ends[2 * k + 1]]);
      expect(t[k]).toBe(0.5);
    }
  });

  it('the smoothed mask draws a slanted boundary straighter than the binary staircase', async () => {
    const { isoContour, smoothMaskField } = await import('../../../src/core/cortex/mesh.ts');
    const w = 40;
    const grid = gridMesh(w, w);
    // A region bounded by the line x + 3y = 60: on a grid of triangles its binary contour is a staircase.
    const mask = Uint8Array.from({ length: w * w }, (_, v) => ((v % w) + 3 * Math.floor(v / w) < 60 ? 1 : 0));
    // RMS distance of the contour's points from that line (its offset fitted: smoothing may shift it).
    const residual = (field: ArrayLike<number>) => {
      const { ends, t } = isoContour(grid.faces, field, 0.5);
      const d: number[] = [];
      for (let k = 0; k < t.length; k++) {
        const [a, b] = [ends[2 * k], ends[2 * k + 1]];
        const x = (a % w) + t[k] * ((b % w) - (a % w));
        const y = Math.floor(a / w) + t[k] * (Math.floor(b / w) - Math.floor(a / w));
        if (x > 2 && x < w - 3 && y > 2 && y < w - 3) d.push((x + 3 * y) / Math.sqrt(10));
      }
      const mean = d.reduce((s, v) => s + v, 0) / d.length;
      return { n: d.length, rms: Math.sqrt(d.reduce((s, v) => s + (v - mean) ** 2, 0) / d.length) };
    };
    const binary = residual(mask);
    const smooth = residual(smoothMaskField(grid.faces, mask));
    expect(binary.n).toBeGreaterThan(20);
    expect(smooth.n).toBeGreaterThan(20);
    expect(smooth.rms).toBeLessThan(0.6 * binary.rms);
  });
});
