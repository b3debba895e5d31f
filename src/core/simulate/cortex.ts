// The SIMULATED cortex of one subject: two hemispheres, each a triangulated sheet (flat, folded and
// inflated shapes share vertices and faces) with V1, V2, V3, hV4 and two higher areas laid out
// retinotopically like the occipital lobe: eccentricity grows posterior -> anterior (u), polar angle
// alternates between vertical and horizontal meridians at the area borders (v), ventral = upper field.
// Each voxel sits on one vertex and inherits its area, visual-field position and pRF size.
import { Rng, streamFor } from '../base/rng.ts';

export const AREAS = ['V1', 'V2', 'V3', 'hV4', 'LO', 'VOT'] as const;
export type Area = (typeof AREAS)[number];
export const AREA_INFO: Record<Area, { color: string; group: 'early' | 'higher' }> = {
  V1: { color: '#e41a1c', group: 'early' },
  V2: { color: '#ff7f00', group: 'early' },
  V3: { color: '#ffd92f', group: 'early' },
  hV4: { color: '#4daf4a', group: 'early' },
  LO: { color: '#377eb8', group: 'higher' },
  VOT: { color: '#984ea3', group: 'higher' },
};

/** Half-width of the stimulus in degrees of visual angle (NSD: 8.4° square images). */
export const FIELD_HALF_DEG = 4.2;
/** Largest eccentricity mapped on the sheet (degrees). */
export const MAX_ECC_DEG = 6.5;

/** pRF size σ = a + b·eccentricity (degrees), per area: grows with eccentricity and up the hierarchy. */
export const PRF_SIZE: Record<Area, [number, number]> = {
  V1: [0.15, 0.12],
  V2: [0.2, 0.17],
  V3: [0.3, 0.25],
  hV4: [0.5, 0.35],
  LO: [1.2, 0.5],
  VOT: [1.4, 0.5],
};

export interface Hemisphere {
  hemi: 'lh' | 'rh';
  nu: number;
  nv: number;
  vertexCount: number;
  faces: Int32Array;
  flat: Float32Array;
  folded: Float32Array;
  inflated: Float32Array;
}

export interface VoxelTable {
  count: number;
  /** [count, 2]: hemisphere (0 lh, 1 rh), vertex. */
  voxelToVertex: Int32Array;
  area: Uint8Array; // index into AREAS
  /** Visual-field centre (degrees; x right, y up), pRF σ (degrees), eccentricity, polar angle (degrees). */
  x: Float32Array;
  y: Float32Array;
  sigma: Float32Array;
  ecc: Float32Array;
  angle: Float32Array;
}

export interface SimCortex {
  subject: number;
  hemis: [Hemisphere, Hemisphere];
  voxels: VoxelTable;
}

/** Area and polar angle (degrees, +90 = upper vertical meridian) at sheet coordinate v in [-1, 1]. */
export function areaAt(v: number): { area: Area; angle: number } {
  const a = Math.abs(v);
  if (a < 0.18) return { area: 'V1', angle: (-v / 0.18) * 90 };
  if (v <= -0.18 && v > -0.36) return { area: 'V2', angle: (90 * (v + 0.36)) / 0.18 };
  if (v >= 0.18 && v < 0.36) return { area: 'V2', angle: (-90 * (0.36 - v)) / 0.18 };
  if (v <= -0.36 && v > -0.52) return { area: 'V3', angle: (90 * (-0.36 - v)) / 0.16 };
  if (v >= 0.36 && v < 0.52) return { area: 'V3', angle: (-90 * (v - 0.36)) / 0.16 };
  if (v <= -0.52 && v > -0.76) return { area: 'hV4', angle: 90 - (180 * (-0.52 - v)) / 0.24 };
  if (v <= -0.76) return { area: 'VOT', angle: 0 };
  return { area: 'LO', angle: 0 };
}

/** Eccentricity (degrees) at sheet coordinate u in [0, 1]: log-like cortical magnification. */
export function eccAt(u: number): number {
  return 0.3 + (MAX_ECC_DEG - 0.3) * (Math.exp(3 * u) - 1) / (Math.exp(3) - 1);
}

function buildHemisphere(hemi: 'lh' | 'rh', nu: number, nv: number, rng: Rng): Hemisphere {
  const n = nu * nv;
  const flat = new Float32Array(n * 3);
  const folded = new Float32Array(n * 3);
  const inflated = new Float32Array(n * 3);
  const side = hemi === 'lh' ? -1 : 1;
  // A few random fold phases per subject, so brains differ.
  const ph1 = rng.uniform(0, 2 * Math.PI);
  const ph2 = rng.uniform(0, 2 * Math.PI);
  for (let i = 0; i < nu; i++) {
    for (let j = 0; j < nv; j++) {
      const u = i / (nu - 1);
      const v = -1 + (2 * j) / (nv - 1);
      const k = (i * nv + j) * 3;
      // flat map (mm): occipital pole at the back (y = -100), sheet 70 x 60 mm, hemispheres apart.
      flat[k] = side * (40 + 30 * (v + 1));
      flat[k + 1] = -100 + 70 * u;
      flat[k + 2] = 0;
      // inflated: the sheet wrapped onto part of an ellipsoid (occipital lobe), smooth.
      const th = (v * Math.PI) / 2.4; // around the calcarine axis
      const ph = u * 1.1;
      const R = 32;
      const ix = side * (12 + R * Math.cos(th) * Math.cos(ph) * 0.6);
      const iy = -95 + R * Math.sin(ph) * 1.6;
      const iz = R * Math.sin(th) * 0.9;
      inflated[k] = ix;
      inflated[k + 1] = iy;
      inflated[k + 2] = iz;
      // folded: inflated plus sulci (radial folds along u and v).
      const fold = 4.5 * Math.sin(2 * Math.PI * 3 * u + ph1) * Math.cos(Math.PI * 2.5 * v + ph2) + 3 * Math.sin(2 * Math.PI * 5 * v);
      folded[k] = ix + side * fold * Math.cos(th) * 0.8;
      folded[k + 1] = iy * 0.95;
      folded[k + 2] = iz + fold * Math.sin(th) * 0.8;
    }
  }
  const faces = new Int32Array((nu - 1) * (nv - 1) * 6);
  let f = 0;
  for (let i = 0; i < nu - 1; i++) {
    for (let j = 0; j < nv - 1; j++) {
      const a = i * nv + j;
      const b = (i + 1) * nv + j;
      const c = (i + 1) * nv + j + 1;
      const d = i * nv + j + 1;
      // consistent winding; mirrored hemisphere flips it so normals point outward on both
      if (hemi === 'lh') faces.set([a, b, c, a, c, d], f);
      else faces.set([a, c, b, a, d, c], f);
      f += 6;
    }
  }
  return { hemi, nu, nv, vertexCount: n, faces, flat, folded, inflated };
}

/** Builds the simulated cortex of a subject with `voxelCount` voxels split across hemispheres. */
export function buildCortex(seed: number, subject: number, voxelCount: number): SimCortex {
  const rng = streamFor(seed, `cortex-${subject}`);
  const perHemi = [Math.ceil(voxelCount / 2), Math.floor(voxelCount / 2)];
  // Enough vertices that every voxel gets its own vertex (~1.6 vertices per voxel).
  const nVert = Math.ceil(perHemi[0] * 1.6);
  // at least 28 rows across v so every area band (the narrowest is 0.16 of the 2.0 span) has vertices
  const nv = Math.max(28, Math.round(Math.sqrt(nVert / 1.2)));
  const nu = Math.max(8, Math.ceil(nVert / nv));
  const hemis: [Hemisphere, Hemisphere] = [buildHemisphere('lh', nu, nv, rng), buildHemisphere('rh', nu, nv, rng)];
  const vox: VoxelTable = {
    count: voxelCount,
    voxelToVertex: new Int32Array(voxelCount * 2),
    area: new Uint8Array(voxelCount),
    x: new Float32Array(voxelCount),
    y: new Float32Array(voxelCount),
    sigma: new Float32Array(voxelCount),
    ecc: new Float32Array(voxelCount),
    angle: new Float32Array(voxelCount),
  };
  let vi = 0;
  for (let h = 0; h < 2; h++) {
    const hm = hemis[h];
    const chosen = rng.permutation(hm.vertexCount).slice(0, perHemi[h]).sort();
    for (const vert of chosen) {
      const i = Math.floor(vert / hm.nv);
      const j = vert % hm.nv;
      const u = i / (hm.nu - 1);
      const v = -1 + (2 * j) / (hm.nv - 1);
      const { area, angle } = areaAt(v);
      const isHigher = AREA_INFO[area].group === 'higher';
      // Higher areas: coarse, central, large receptive fields with jittered centres.
      const ecc = isHigher ? 0.5 + 3 * u : eccAt(u);
      const ang = isHigher ? rng.uniform(-80, 80) : angle;
      const sx = h === 0 ? 1 : -1; // lh sees the right visual field
      const [a, b] = PRF_SIZE[area];
      vox.voxelToVertex[vi * 2] = h;
      vox.voxelToVertex[vi * 2 + 1] = vert;
      vox.area[vi] = AREAS.indexOf(area);
      vox.ecc[vi] = ecc;
      vox.angle[vi] = ang;
      vox.x[vi] = sx * ecc * Math.cos((ang * Math.PI) / 180);
      vox.y[vi] = ecc * Math.sin((ang * Math.PI) / 180);
      vox.sigma[vi] = (a + b * ecc) * rng.uniform(0.85, 1.15);
      vi++;
    }
  }
  return { subject, hemis, voxels: vox };
}

/** Voxel indices of each area (ROIs), in voxel order. */
export function roiVoxels(c: SimCortex): Map<Area, Int32Array> {
  const out = new Map<Area, Int32Array>();
  AREAS.forEach((name, a) => {
    const idx: number[] = [];
    for (let v = 0; v < c.voxels.count; v++) if (c.voxels.area[v] === a) idx.push(v);
    out.set(name, Int32Array.from(idx));
  });
  return out;
}
