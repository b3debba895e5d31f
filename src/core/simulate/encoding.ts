// The SIMULATED ground-truth encoding model: how each voxel responds to an image (vision) or to an
// imagined stimulus (imagery). Early areas: population receptive fields (pRF, Gaussian in the visual
// field) over local oriented energy (a Gabor-energy bank), with a compressive exponent; higher areas:
// a random linear readout of the scene's semantic code (plus a little pooled energy). Equations in
// docs/simulation.md ("Encoding model").
import { AREAS, AREA_INFO, FIELD_HALF_DEG, type SimCortex } from './cortex.ts';
import { IMAGE_SIZE, SEMANTIC_DIM } from './dims.ts';
import { streamFor } from '../base/rng.ts';
import { downsample, luminance } from './render.ts';

// ---------- oriented energy ----------

/** Energy grids (cells per side); each voxel reads the finest grid on which its pRF spans <= 1.5 cells. */
export const ENERGY_GRIDS = [32, 16, 8] as const;
export const ORIENTATIONS = [0, 45, 90, 135] as const; // degrees, counter-clockwise from horizontal
const GABOR_SIZE = 9;
const GABOR_WAVELENGTH = 6; // pixels of the 32x32 luminance image
const GABOR_SIGMA = 2;
/** Compressive spatial summation exponent of early-area pRF responses (Kay et al. 2013 style). */
export const CSS_EXPONENT = 0.7;

/** Offsets of each grid inside the per-image energy vector [cell-major, 4 orientations per cell]. */
export const GRID_OFFSETS = (() => {
  const o: number[] = [];
  let acc = 0;
  for (const g of ENERGY_GRIDS) {
    o.push(acc);
    acc += g * g * ORIENTATIONS.length;
  }
  return { offsets: o, total: acc };
})();
export const ENERGY_LENGTH = GRID_OFFSETS.total;

let gaborBank: { even: Float32Array[]; odd: Float32Array[] } | null = null;
function bank() {
  if (gaborBank) return gaborBank;
  const even: Float32Array[] = [];
  const odd: Float32Array[] = [];
  const h = (GABOR_SIZE - 1) / 2;
  for (const deg of ORIENTATIONS) {
    const t = (deg * Math.PI) / 180;
    const e = new Float32Array(GABOR_SIZE * GABOR_SIZE);
    const o = new Float32Array(GABOR_SIZE * GABOR_SIZE);
    for (let y = -h; y <= h; y++) {
      for (let x = -h; x <= h; x++) {
        // A bar at angle t has its luminance gradient along the normal (-sin t, cos t) in y-up coords.
        const yu = -y;
        const across = -Math.sin(t) * x + Math.cos(t) * yu;
        const g = Math.exp(-(x * x + y * y) / (2 * GABOR_SIGMA * GABOR_SIGMA));
        e[(y + h) * GABOR_SIZE + x + h] = g * Math.cos((2 * Math.PI * across) / GABOR_WAVELENGTH);
        o[(y + h) * GABOR_SIZE + x + h] = g * Math.sin((2 * Math.PI * across) / GABOR_WAVELENGTH);
      }
    }
    // zero mean: no response to uniform luminance
    const me = e.reduce((a, b) => a + b, 0) / e.length;
    for (let i = 0; i < e.length; i++) e[i] -= me;
    even.push(e);
    odd.push(o);
  }
  gaborBank = { even, odd };
  return gaborBank;
}

/**
 * Oriented energy of an image (uint8 RGB, IMAGE_SIZE square): luminance at 32x32, quadrature Gabor
 * pairs at 4 orientations, energy = sqrt(even² + odd²), then average-pooled to 16x16 and 8x8.
 * Layout: for each grid in ENERGY_GRIDS, cell-major (row, col), 4 orientations per cell.
 */
export function orientedEnergy(rgb: Uint8Array, size = IMAGE_SIZE): Float32Array {
  const g0 = ENERGY_GRIDS[0];
  const lum = luminance(downsample(rgb, size, size / g0), g0);
  const { even, odd } = bank();
  const out = new Float32Array(ENERGY_LENGTH);
  const h = (GABOR_SIZE - 1) / 2;
  const nO = ORIENTATIONS.length;
  for (let y = 0; y < g0; y++) {
    for (let x = 0; x < g0; x++) {
      for (let o = 0; o < nO; o++) {
        let se = 0;
        let so = 0;
        const E = even[o];
        const O = odd[o];
        for (let dy = -h; dy <= h; dy++) {
          const yy = Math.min(g0 - 1, Math.max(0, y + dy)); // edge replicate: no energy at the frame
          const row = yy * g0;
          const k = (dy + h) * GABOR_SIZE + h;
          for (let dx = -h; dx <= h; dx++) {
            const xx = Math.min(g0 - 1, Math.max(0, x + dx));
            const v = lum[row + xx];
            se += v * E[k + dx];
            so += v * O[k + dx];
          }
        }
        out[(y * g0 + x) * nO + o] = Math.sqrt(se * se + so * so);
      }
    }
  }
  // pooled grids
  for (let gi = 1; gi < ENERGY_GRIDS.length; gi++) {
    const g = ENERGY_GRIDS[gi];
    const f = g0 / g;
    const off = GRID_OFFSETS.offsets[gi];
    for (let y = 0; y < g; y++) {
      for (let x = 0; x < g; x++) {
        for (let o = 0; o < nO; o++) {
          let acc = 0;
          for (let dy = 0; dy < f; dy++) for (let dx = 0; dx < f; dx++) acc += out[((y * f + dy) * g0 + x * f + dx) * nO + o];
          out[off + (y * g + x) * nO + o] = acc / (f * f);
        }
      }
    }
  }
  return out;
}

// ---------- imagery ----------

/** How an imagined stimulus degrades the seen one (docs/background.md §1). */
export const IMAGERY = {
  /** Gaussian blur σ in pixels of the IMAGE_SIZE image (coarser spatial resolution). */
  blurSigmaPx: 4,
  /** Contrast kept around the mean luminance (lower contrast). */
  contrast: 0.5,
  /** Chroma kept (fewer dimensions: colour mostly dropped). */
  chroma: 0.3,
  /**
   * Gain of the early (pRF) drive during imagery (weak feedback to early areas): set so that the
   * low-level gap is the largest, as MIRAGE Table 1's PixCorr imagery/vision 0.47 (docs/simulation.md §5).
   */
  earlyGain: 0.25,
  /**
   * Gain of the semantic drive during imagery (partly kept); times a per-trial vividness in [0.7, 1].
   * Set so that high-level identification keeps about half its margin above chance, as MIRAGE's CLIP
   * 2-way (57.5 vs 66.7 %: 0.45 of the vision margin).
   */
  semanticGain: 0.6,
  /**
   * Share of a scene's attribute words (colours, patterns, background) kept in the imagined semantic
   * code, the object classes kept whole (fewer dimensions: the gist is imagined, the detail less). Set
   * so that the low-level gap is the largest, as MIRAGE Table 1's PixCorr ratio 0.47 (docs/simulation.md §5):
   * at 1, imagery recovered the background from the semantic code and PixCorr imagery/vision was 0.92.
   */
  attributeKeep: 0.4,
  /**
   * Trial-noise standard deviation relative to vision (lower SNR). With 16 imagery vs 8 vision repeats
   * (NSD-Imagery), 1.2 left the averaged imagery pattern LESS noisy than vision's; at 2 it is √2 noisier.
   */
  noiseScale: 2.0,
};

function blur1d(src: Float32Array, dst: Float32Array, size: number, kernel: Float32Array, horizontal: boolean): void {
  const h = (kernel.length - 1) / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        for (let k = -h; k <= h; k++) {
          const xx = horizontal ? Math.min(size - 1, Math.max(0, x + k)) : x;
          const yy = horizontal ? y : Math.min(size - 1, Math.max(0, y + k));
          acc += src[(yy * size + xx) * 3 + c] * kernel[k + h];
        }
        dst[(y * size + x) * 3 + c] = acc;
      }
    }
  }
}

/** The imagined copy of an image: blurred, lower contrast, mostly colourless (uint8 RGB). */
export function imaginedImage(rgb: Uint8Array, size = IMAGE_SIZE): Uint8Array {
  const s = IMAGERY.blurSigmaPx;
  const h = Math.ceil(3 * s);
  const kernel = new Float32Array(2 * h + 1);
  let ks = 0;
  for (let k = -h; k <= h; k++) ks += kernel[k + h] = Math.exp(-(k * k) / (2 * s * s));
  for (let k = 0; k < kernel.length; k++) kernel[k] /= ks;
  const a = Float32Array.from(rgb);
  const b = new Float32Array(a.length);
  blur1d(a, b, size, kernel, true);
  blur1d(b, a, size, kernel, false);
  let mean = 0;
  for (let i = 0; i < size * size; i++) mean += 0.299 * a[i * 3] + 0.587 * a[i * 3 + 1] + 0.114 * a[i * 3 + 2];
  mean /= size * size;
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < size * size; i++) {
    const l = 0.299 * a[i * 3] + 0.587 * a[i * 3 + 1] + 0.114 * a[i * 3 + 2];
    for (let c = 0; c < 3; c++) {
      const chromaKept = l + (a[i * 3 + c] - l) * IMAGERY.chroma;
      out[i * 3 + c] = Math.round(Math.min(255, Math.max(0, mean + (chromaKept - mean) * IMAGERY.contrast)));
    }
  }
  return out;
}

// ---------- the voxel model ----------

/** Weight of the pRF (energy) and semantic components per area: [a, b]. */
export const AREA_MIX: Record<(typeof AREAS)[number], [number, number]> = {
  V1: [1, 0],
  V2: [1, 0.1],
  V3: [1, 0.2],
  hV4: [0.8, 0.5],
  LO: [0.35, 1],
  VOT: [0.3, 1],
};

export interface EncodingModel {
  nVox: number;
  /** Sparse pRF weights: voxel v uses entries prfStart[v]..prfStart[v+1] of prfCell (index of the cell's first orientation in the energy vector) and prfWeight. */
  prfStart: Int32Array;
  prfCell: Int32Array;
  prfWeight: Float32Array;
  /** [nVox, 4] orientation weights. */
  oriWeight: Float32Array;
  /** [nVox, SEMANTIC_DIM] semantic readout. */
  semWeight: Float32Array;
  /** [nVox, 2] component mix (a, b) after normalisation to a² + b² = 1. */
  mix: Float32Array;
  /** Signal amplitude per voxel (voxel quality; noise sd is 1). */
  quality: Float32Array;
  /** Loading of the shared (global) trial noise per voxel. */
  sharedLoading: Float32Array;
  /** Training-set mean/sd of the raw energy and semantic drives, per voxel (the z-scoring of each component). */
  energyMean: Float32Array;
  energyStd: Float32Array;
  semMean: Float32Array;
  semStd: Float32Array;
}

export const NOISE = {
  /** Independent trial noise of each voxel (sd, the unit of the signal amplitudes). */
  voxelSd: 1,
  /** Shared trial noise: one normal draw per trial times the voxel's loading. */
  sharedSd: 0.3,
};

/** Draws the per-voxel parameters of the encoding model from the cortex (statistics filled later). */
export function buildEncodingModel(seed: number, cortex: SimCortex): EncodingModel {
  const rng = streamFor(seed, `encoding-${cortex.subject}`);
  const V = cortex.voxels;
  const n = V.count;
  const starts = new Int32Array(n + 1);
  const cells: number[] = [];
  const weights: number[] = [];
  const nO = ORIENTATIONS.length;
  const degPerPx = (2 * FIELD_HALF_DEG);
  for (let v = 0; v < n; v++) {
    starts[v] = cells.length;
    const sigma = V.sigma[v];
    let gi = ENERGY_GRIDS.findIndex((g) => sigma / (degPerPx / g) <= 1.5);
    if (gi < 0) gi = ENERGY_GRIDS.length - 1;
    const g = ENERGY_GRIDS[gi];
    const cell = degPerPx / g;
    const sc = sigma / cell;
    // centre in cell units (col right, row down)
    const cx = (V.x[v] + FIELD_HALF_DEG) / cell - 0.5;
    const cy = (FIELD_HALF_DEG - V.y[v]) / cell - 0.5;
    const r = Math.ceil(2.5 * Math.max(sc, 0.5));
    // analytic normaliser: a pRF partly outside the image gets a proportionally smaller drive
    const norm = 1 / (2 * Math.PI * Math.max(sc, 0.5) ** 2);
    for (let row = Math.max(0, Math.floor(cy - r)); row <= Math.min(g - 1, Math.ceil(cy + r)); row++) {
      for (let col = Math.max(0, Math.floor(cx - r)); col <= Math.min(g - 1, Math.ceil(cx + r)); col++) {
        const d2 = (col - cx) ** 2 + (row - cy) ** 2;
        const s2 = Math.max(sc, 0.5) ** 2;
        const w = Math.exp(-d2 / (2 * s2)) * norm;
        if (w < 1e-3 * norm) continue;
        cells.push(GRID_OFFSETS.offsets[gi] + (row * g + col) * nO);
        weights.push(w);
      }
    }
  }
  starts[n] = cells.length;
  const oriWeight = new Float32Array(n * nO);
  const semWeight = new Float32Array(n * SEMANTIC_DIM);
  const mix = new Float32Array(n * 2);
  const quality = new Float32Array(n);
  const sharedLoading = new Float32Array(n);
  for (let v = 0; v < n; v++) {
    const pref = rng.uniform(0, Math.PI);
    const kappa = rng.uniform(0, 0.8);
    ORIENTATIONS.forEach((deg, o) => (oriWeight[v * nO + o] = 1 + kappa * Math.cos(2 * ((deg * Math.PI) / 180 - pref))));
    let ss = 0;
    for (let k = 0; k < SEMANTIC_DIM; k++) {
      const w = rng.normal();
      semWeight[v * SEMANTIC_DIM + k] = w;
      ss += w * w;
    }
    for (let k = 0; k < SEMANTIC_DIM; k++) semWeight[v * SEMANTIC_DIM + k] /= Math.sqrt(ss);
    const area = AREAS[V.area[v]];
    const [a, b] = AREA_MIX[area];
    const nrm = Math.hypot(a, b);
    mix[v * 2] = a / nrm;
    mix[v * 2 + 1] = b / nrm;
    quality[v] = rng.uniform(0.3, 1.0) * (AREA_INFO[area].group === 'early' ? 1 : 0.9);
    sharedLoading[v] = rng.uniform(0.5, 1.5);
  }
  return {
    nVox: n,
    prfStart: starts,
    prfCell: Int32Array.from(cells),
    prfWeight: Float32Array.from(weights),
    oriWeight,
    semWeight,
    mix,
    quality,
    sharedLoading,
    energyMean: new Float32Array(n),
    energyStd: new Float32Array(n).fill(1),
    semMean: new Float32Array(n),
    semStd: new Float32Array(n).fill(1),
  };
}

/** Raw pRF drive of every voxel for one energy vector: (Σ_c g_c Σ_o w_o E[c, o])^CSS_EXPONENT. */
export function energyDrive(m: EncodingModel, energy: Float32Array, out = new Float32Array(m.nVox)): Float32Array {
  const nO = ORIENTATIONS.length;
  for (let v = 0; v < m.nVox; v++) {
    const w0 = m.oriWeight[v * nO];
    const w1 = m.oriWeight[v * nO + 1];
    const w2 = m.oriWeight[v * nO + 2];
    const w3 = m.oriWeight[v * nO + 3];
    let acc = 0;
    for (let k = m.prfStart[v]; k < m.prfStart[v + 1]; k++) {
      const c = m.prfCell[k];
      acc += m.prfWeight[k] * (w0 * energy[c] + w1 * energy[c + 1] + w2 * energy[c + 2] + w3 * energy[c + 3]);
    }
    out[v] = Math.pow(acc, CSS_EXPONENT);
  }
  return out;
}

/** Raw semantic drive of every voxel: s_v · code. */
export function semanticDrive(m: EncodingModel, code: Float32Array, out = new Float32Array(m.nVox)): Float32Array {
  for (let v = 0; v < m.nVox; v++) {
    let acc = 0;
    const o = v * SEMANTIC_DIM;
    for (let k = 0; k < SEMANTIC_DIM; k++) acc += m.semWeight[o + k] * code[k];
    out[v] = acc;
  }
  return out;
}

/** Sets the per-voxel z-scoring of both drives from the training images (rows = images). */
export function fitDriveStatistics(m: EncodingModel, energyDrives: Float32Array[], semDrives: Float32Array[]): void {
  const stat = (rows: Float32Array[], mean: Float32Array, std: Float32Array) => {
    const n = rows.length;
    mean.fill(0);
    std.fill(0);
    for (const r of rows) for (let v = 0; v < m.nVox; v++) mean[v] += r[v] / n;
    for (const r of rows) for (let v = 0; v < m.nVox; v++) std[v] += (r[v] - mean[v]) ** 2 / n;
    for (let v = 0; v < m.nVox; v++) std[v] = Math.sqrt(std[v]) || 1;
  };
  stat(energyDrives, m.energyMean, m.energyStd);
  stat(semDrives, m.semMean, m.semStd);
}

/**
 * Noise-free response (signal) of every voxel:
 *   signal_v = q_v · (a_v · gE · zE_v + b_v · gS · zS_v),  zE = (E − μE)/σE, zS = (S − μS)/σS.
 * For vision gE = gS = 1; imagery passes its gains (early drive computed on the imagined image).
 * `energy` null means no early drive (imagining a concept).
 */
export function voxelSignal(
  m: EncodingModel,
  eDrive: Float32Array | null,
  sDrive: Float32Array | null,
  gE = 1,
  gS = 1,
  out = new Float32Array(m.nVox),
): Float32Array {
  for (let v = 0; v < m.nVox; v++) {
    const zE = eDrive ? (eDrive[v] - m.energyMean[v]) / m.energyStd[v] : 0;
    const zS = sDrive ? (sDrive[v] - m.semMean[v]) / m.semStd[v] : 0;
    out[v] = m.quality[v] * (m.mix[v * 2] * gE * zE + m.mix[v * 2 + 1] * gS * zS);
  }
  return out;
}

/**
 * Predicted (noise-free) betas for an arbitrary image, e.g. a reconstruction: the early drive from
 * the image's oriented energy, the semantic drive from a semantic code estimated linearly from the
 * image's embedding (`semanticFromEmbedding`, [SEMANTIC_DIM, embedDim + 1] with the bias last).
 */
export function predictBetasFromImage(
  m: EncodingModel,
  rgb: Uint8Array,
  imageEmbedding: Float32Array,
  semanticFromEmbedding: Float32Array,
  size = IMAGE_SIZE,
): Float32Array {
  const code = new Float32Array(SEMANTIC_DIM);
  const d = imageEmbedding.length;
  if (semanticFromEmbedding.length !== SEMANTIC_DIM * (d + 1)) {
    throw new RangeError(`predictBetasFromImage: semanticFromEmbedding has ${semanticFromEmbedding.length} values, expected ${SEMANTIC_DIM}x${d + 1}`);
  }
  for (let k = 0; k < SEMANTIC_DIM; k++) {
    let acc = semanticFromEmbedding[k * (d + 1) + d];
    for (let j = 0; j < d; j++) acc += semanticFromEmbedding[k * (d + 1) + j] * imageEmbedding[j];
    code[k] = acc;
  }
  return voxelSignal(m, energyDrive(m, orientedEnergy(rgb, size)), semanticDrive(m, code));
}
