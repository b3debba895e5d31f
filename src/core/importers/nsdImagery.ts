// `mirage import nsd-imagery`: one NSD subject's imagery session from the files NSD distributes
// (docs/background.md §2) into a bundle: betas (÷300, z-scored per voxel within each run label) of the
// nsdgeneral voxels in numpy order, trial metadata from nsdimagery_stimuli.pkl3, the 18 stimulus
// images, FreeSurfer surfaces with a voxel -> vertex map, and ROIs from NSD's ROI volumes.
import { AbortError } from '../base/errors.ts';
import { yieldEvery, YIELD_MS } from '../base/yield.ts';
import type { Provenance, Roi, Stimulus, StimulusSet, Subject, Surface, Trial } from '../bundle/manifest.ts';
import type { BundleWriter, ManifestBody } from '../bundle/writer.ts';
import { sourceName, type ByteSource } from '../formats/byteSource.ts';
import { FormatError } from '../formats/errors.ts';
import { readFsSurface, type FsSurface } from '../formats/freesurfer.ts';
import { applyAffine, maskIndices, openNifti, readNifti, voxelCoords } from '../formats/nifti.ts';
import { asStringList, dictGet, NdArray, ndarrayToFloat64, unpickle, type PyValue } from '../formats/pickle.ts';
import { loadTorch, tensorRows, TorchTensor } from '../formats/torch.ts';
import { decodePng, pngToRgb } from '../tensor/png.ts';
import { assertFinite, UNIT_PIXEL_RANGE } from '../tensor/finite.ts';
import { chwToHwcUint8, hwcToChw, mustOpen, ROI_PALETTE, subjectDir, type FileTree, type ImportContext } from './common.ts';
import { nearestVertices } from './voxelToVertex.ts';

export const NSD_PATHS = {
  betas: (s: string) => `nsddata_betas/ppdata/${s}/func1pt8mm/nsdimagerybetas_fithrf_GLMdenoise_RR/betas_nsdimagery.nii.gz`,
  mask: (s: string) => `nsddata/ppdata/${s}/func1pt8mm/roi/nsdgeneral.nii.gz`,
  roiDir: (s: string) => `nsddata/ppdata/${s}/func1pt8mm/roi`,
  ctab: (s: string, name: string) => `nsddata/freesurfer/${s}/label/${name}.mgz.ctab`,
  surf: (s: string, file: string) => `nsddata/freesurfer/${s}/surf/${file}`,
  stimuliPkl: 'nsddata_stimuli/stimuli/nsdimagery_stimuli.pkl3',
  stimuliPt: ['imagery_stimuli_18.pt', 'nsddata_stimuli/stimuli/imagery_stimuli_18.pt'],
};

/** NSD's ROI volumes we turn into bundle ROIs, and the metric group of their labels. */
const ROI_VOLUMES: Array<{ name: string; group: (label: string) => Roi['group'] }> = [
  { name: 'prf-visualrois', group: () => 'early' },
  { name: 'floc-faces', group: () => 'higher' },
  { name: 'floc-bodies', group: () => 'higher' },
  { name: 'floc-places', group: () => 'higher' },
  { name: 'floc-words', group: () => 'higher' },
  { name: 'streams', group: (l) => (l.startsWith('early') ? 'early' : 'higher') },
];

const RUN_RE = /^(vis[ABC]|img[ABC]_[12]|att[ABC])$/;
const BETA_SCALE = 300;

export interface NsdImageryOptions extends ImportContext {
  tree: FileTree;
  subject: number;
  writer: BundleWriter;
  provenance: Provenance;
  /** Stimulus images: a .pt tensor [18, 3, H, W] in [0, 1], or PNG files in stimulus-id order. */
  stimuli?: ByteSource | Array<{ name: string; source: ByteSource }>;
  betaDtype?: 'float16' | 'float32';
  /** Side of the square stored images (default: the stimuli's own size). */
  imageSize?: number;
  /** Voxels farther than this from any mid-thickness vertex map to -1 (mm, default 3.6 = 2 voxels). */
  maxVertexDistance?: number;
}

export interface NsdImageryResult {
  body: ManifestBody;
  warnings: string[];
}

function conditionOf(run: string): Trial['condition'] {
  return run.startsWith('vis') ? 'vision' : run.startsWith('img') ? 'imagery' : 'attention';
}

function setOf(id: number): StimulusSet {
  return id < 6 ? 'simple' : id < 12 ? 'complex' : 'conceptual';
}

function intOf(v: PyValue): number | null {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof NdArray && v.size === 1) return ndarrayToFloat64(v)[0];
  return null;
}

export async function importNsdImagery(opts: NsdImageryOptions): Promise<NsdImageryResult> {
  const { tree, writer, subject } = opts;
  const s = subjectDir(subject);
  const warnings: string[] = [];
  const progress = opts.onProgress ?? (() => {});
  const file = (p: string) => `${tree.label}/${p}`;

  // --- trial metadata
  const pklPath = NSD_PATHS.stimuliPkl;
  const pkl = await unpickle(await mustOpen(tree, pklPath, 'NSD-Imagery trial metadata', opts), { file: file(pklPath) });
  const exps = asStringList(dictGet(pkl, 'exps', file(pklPath)), file(pklPath), 'exps');
  const cues = asStringList(dictGet(pkl, 'cues', file(pklPath)), file(pklPath), 'cues');
  const imageMap = dictGet(pkl, 'image_map', file(pklPath));
  if (!(imageMap instanceof Map)) throw new FormatError(file(pklPath), 'image_map is not a dict', { field: 'image_map', expected: 'dict letter -> stimulus id' });
  if (cues.length !== exps.length) throw new FormatError(file(pklPath), `${cues.length} cues for ${exps.length} trials`, { field: 'cues', expected: `${exps.length} cues (one per entry of exps)` });
  exps.forEach((run, t) => {
    if (!RUN_RE.test(run)) {
      throw new FormatError(file(pklPath), `trial ${t} has run label "${run}"`, { field: `exps[${t}]`, expected: 'a run label visA..attC, imgA_1..imgC_2' });
    }
  });
  const stimOfCue = new Map<string, number>();
  for (const [k, v] of imageMap) {
    const id = intOf(v);
    if (typeof k !== 'string' || id === null || id < 0 || id > 17) {
      throw new FormatError(file(pklPath), `image_map[${String(k)}] = ${String(v)}`, { field: 'image_map', expected: 'letter -> stimulus id 0..17' });
    }
    stimOfCue.set(k, id);
  }
  const trialStim = cues.map((c, t) => {
    const id = stimOfCue.get(c);
    if (id === undefined) throw new FormatError(file(pklPath), `cue "${c}" of trial ${t} is not in image_map`, { field: `cues[${t}]`, expected: `one of ${[...stimOfCue.keys()].join('')}` });
    return id;
  });

  // --- mask
  const maskPath = NSD_PATHS.mask(s);
  const mask = await readNifti(await mustOpen(tree, maskPath, 'nsdgeneral mask', opts));
  const maskShape = mask.header.shape.slice(0, 3);
  const idx = maskIndices(mask.data, maskShape);
  const nvox = idx.length;
  if (nvox === 0) throw new FormatError(file(maskPath), 'mask has no voxel equal to 1', { field: 'data', expected: 'nsdgeneral voxels marked 1' });

  // --- betas, volume by volume
  const betasPath = NSD_PATHS.betas(s);
  const nv = await openNifti(await mustOpen(tree, betasPath, 'imagery betas', opts));
  const bShape = nv.header.shape.slice(0, 3);
  if (bShape.join() !== maskShape.join()) {
    throw new FormatError(file(betasPath), `volume shape [${bShape}] differs from the mask ${file(maskPath)} [${maskShape}]`, {
      field: 'dim',
      expected: `the mask's shape [${maskShape}]`,
    });
  }
  const T = nv.volumeCount;
  if (T !== exps.length) {
    throw new FormatError(file(betasPath), `${T} volumes but ${file(pklPath)} lists ${exps.length} trials`, { field: 'dim[4]', expected: `${exps.length} trials` });
  }
  const betas = new Float64Array(T * nvox); // float64 while z-scoring; stored as betaDtype
  const tmp = new Float64Array(nvox);
  let t = 0;
  // A gunzipped file's volumes arrive without a macrotask; these loops yield so Ctrl-C is heard.
  const tick = yieldEvery(YIELD_MS, opts.signal);
  for await (const vol of nv.volumes(opts.signal, idx)) {
    await tick();
    tmp.set(vol);
    assertFinite(file(betasPath), `volume ${t}`, tmp, { noun: 'beta', expected: 'finite betas inside the nsdgeneral mask (element = mask voxel)' });
    for (let v = 0; v < nvox; v++) betas[t * nvox + v] = tmp[v] / BETA_SCALE;
    t++;
    progress(t, T, 'betas');
  }

  // --- z-score per voxel within each run label (population std, like scipy.stats.zscore)
  const runs = new Map<string, number[]>();
  exps.forEach((r, i) => {
    const list = runs.get(r);
    if (list) list.push(i);
    else runs.set(r, [i]);
  });
  for (const [run, rows] of runs) {
    await tick();
    if (rows.length < 2) throw new FormatError(file(pklPath), `run ${run} has ${rows.length} trial`, { field: 'exps', expected: 'at least 2 trials per run label to z-score' });
    for (let v = 0; v < nvox; v++) {
      let m = 0;
      for (const r of rows) m += betas[r * nvox + v];
      m /= rows.length;
      let ss = 0;
      for (const r of rows) ss += (betas[r * nvox + v] - m) ** 2;
      const sd = Math.sqrt(ss / rows.length);
      for (const r of rows) betas[r * nvox + v] = sd > 0 ? (betas[r * nvox + v] - m) / sd : 0;
    }
  }
  const betaDtype = opts.betaDtype ?? 'float16';
  const betaShard = `${s}/betas_imagery.bin`;
  const betaRef = writer.addTensor(betaShard, betas, betaDtype, [T, nvox]);
  await writer.closeShard(betaShard);
  const rowBytes = nvox * (betaDtype === 'float16' ? 2 : 4);
  const seen = new Map<string, number>();
  const trials: Trial[] = exps.map((run, i) => {
    const condition = conditionOf(run);
    const key = `${trialStim[i]}/${condition}`;
    const repeat = seen.get(key) ?? 0;
    seen.set(key, repeat + 1);
    return { subject, run, stimulus: trialStim[i], condition, repeat, betas: { shard: betaShard, offset: betaRef.offset + i * rowBytes } };
  });

  // --- stimuli
  const { stimuli, imageSize } = await importStimuli(opts, stimOfCue, warnings);

  // --- surfaces and voxel -> vertex
  const surfaces: Surface[] = [];
  const mids: Array<{ hemi: 0 | 1; points: Float32Array }> = [];
  const surfShard = `${s}/surfaces.bin`;
  for (const [hi, hemi] of (['lh', 'rh'] as const).entries()) {
    const read = async (name: string): Promise<FsSurface | null> => {
      const p = NSD_PATHS.surf(s, `${hemi}.${name}`);
      const src = await tree.open(p);
      if (!src) return null;
      opts.onSource?.(p);
      const surf = await readFsSurface(src);
      // a NaN vertex would put the whole mesh (and the voxel -> vertex map) out of shape
      assertFinite(sourceName(src), 'vertices', surf.vertices, { shape: [surf.vertices.length / 3, 3], noun: 'coordinate' });
      return surf;
    };
    const white = await read('white');
    const pial = await read('pial');
    if (!white && !pial) {
      warnings.push(`no ${hemi}.white / ${hemi}.pial under ${file(NSD_PATHS.surf(s, ''))}: no ${hemi} surface`);
      continue;
    }
    const base = (white ?? pial)!;
    if (base.vertexCount === 0) {
      warnings.push(`${hemi} surface has no vertices: skipped`);
      continue;
    }
    if (white && pial && (white.vertexCount !== pial.vertexCount)) {
      throw new FormatError(file(NSD_PATHS.surf(s, `${hemi}.pial`)), `${pial.vertexCount} vertices, white has ${white.vertexCount}`, { field: 'vertices', expected: 'the same vertex count as the white surface' });
    }
    const mid = new Float32Array(base.vertices.length);
    for (let i = 0; i < mid.length; i++) mid[i] = white && pial ? (white.vertices[i] + pial.vertices[i]) / 2 : base.vertices[i];
    const cras = base.cras ?? [0, 0, 0];
    const world = Float32Array.from(mid, (x, i) => x + cras[i % 3]);
    mids.push({ hemi: hi as 0 | 1, points: world });
    const inflated = await read('inflated');
    const surface: Surface = {
      hemi,
      vertexCount: base.vertexCount,
      faces: writer.addTensor(surfShard, base.faces, 'int32', [base.faces.length / 3, 3]),
      shapes: { folded: writer.addTensor(surfShard, mid, 'float32', [base.vertexCount, 3]) },
    };
    if (inflated && inflated.vertexCount === base.vertexCount) surface.shapes.inflated = writer.addTensor(surfShard, inflated.vertices, 'float32', [base.vertexCount, 3]);
    surfaces.push(surface);
  }
  let voxelToVertex: Subject['voxelToVertex'];
  if (mids.length) {
    const centres = applyAffine(mask.header.affine, voxelCoords(idx, maskShape));
    const { map } = nearestVertices(centres, mids, opts.maxVertexDistance ?? 3.6);
    let mapped = 0;
    for (let v = 0; v < nvox; v++) if (map[2 * v] >= 0) mapped++;
    if (mapped < nvox) warnings.push(`${nvox - mapped} of ${nvox} voxels have no surface vertex within ${opts.maxVertexDistance ?? 3.6} mm (mapped to -1)`);
    voxelToVertex = writer.addTensor(surfShard, map, 'int32', [nvox, 2]);
  }
  if (surfaces.length) await writer.closeShard(surfShard);

  // --- ROIs
  const rois = await importRois(opts, s, idx, maskShape, maskPath, warnings);

  const subj: Subject = {
    id: subject,
    label: `NSD subject ${subject}`,
    role: 'decoded',
    voxelCount: nvox,
    betaDtype,
    surfaces,
    rois,
    heads: [],
  };
  if (voxelToVertex) subj.voxelToVertex = voxelToVertex;
  if (opts.signal?.aborted) throw new AbortError();
  return {
    body: {
      name: `NSD-Imagery subject ${subject}`,
      description: `NSD-Imagery session of NSD subject ${subject}: ${T} trials, ${nvox} nsdgeneral voxels (betas ÷${BETA_SCALE}, z-scored per voxel within each run).`,
      provenance: opts.provenance,
      imageSize,
      subjects: [subj],
      stimuli,
      trials,
      features: [],
    },
    warnings,
  };
}

async function importStimuli(opts: NsdImageryOptions, stimOfCue: Map<string, number>, warnings: string[]): Promise<{ stimuli: Stimulus[]; imageSize: number }> {
  const { tree, writer } = opts;
  let src = opts.stimuli;
  if (!src) {
    for (const p of NSD_PATHS.stimuliPt) {
      const s = await tree.open(p);
      if (s) {
        opts.onSource?.(p);
        src = s;
        break;
      }
    }
  }
  const cueOf = new Map([...stimOfCue].map(([c, id]) => [id, c]));
  const stimuli: Stimulus[] = Array.from({ length: 18 }, (_, id) => ({
    id,
    name: `${setOf(id)} ${id % 6}${cueOf.has(id) ? ` (cue ${cueOf.get(id)})` : ''}`,
    set: setOf(id),
    cue: cueOf.get(id) ?? '?',
    caption: '',
  }));
  if (!src) {
    warnings.push('no stimulus images (imagery_stimuli_18.pt or --stimuli): stimuli carry no images');
    return { stimuli, imageSize: opts.imageSize ?? 425 };
  }
  const shard = 'stimuli/images.bin';
  let size = opts.imageSize ?? 0;
  if (Array.isArray(src)) {
    if (src.length < 12) throw new FormatError(src[0]?.name ?? 'stimuli', `${src.length} images`, { expected: 'at least 12 images (simple and complex stimuli) in stimulus-id order' });
    for (let id = 0; id < Math.min(src.length, 18); id++) {
      const png = decodePng(await src[id].source.read(0, src[id].source.size), src[id].name);
      const rgb = pngToRgb(png);
      if (!size) size = png.width;
      if (stimuli[id].set !== 'conceptual') stimuli[id].image = writer.addTensor(shard, chwToHwcUint8(hwcToChw(rgb, png.height, png.width), png.height, png.width, size), 'uint8', [size, size, 3]);
    }
  } else {
    const { root, file } = await loadTorch(src);
    if (!(root instanceof TorchTensor) || root.shape.length !== 4 || root.shape[1] !== 3) {
      throw new FormatError(file, `expected one tensor [18, 3, H, W]`, { field: 'data.pkl', expected: 'a float tensor of shape [18, 3, H, W] in [0, 1]' });
    }
    const [n, , h, w] = root.shape;
    if (n < 12) throw new FormatError(file, `${n} images`, { field: 'shape[0]', expected: '18 stimuli' });
    if (!size) size = h;
    const isByte = root.dtype === 'uint8';
    for (let id = 0; id < Math.min(n, 18); id++) {
      if (stimuli[id].set === 'conceptual') continue;
      const chw = await tensorRows(root, id, 1);
      if (!isByte) assertFinite(file, 'stimulus images', chw, { shape: root.shape, offset: id * chw.length, range: UNIT_PIXEL_RANGE, noun: 'pixel', expected: 'pixel values in [0, 1]' });
      stimuli[id].image = writer.addTensor(shard, chwToHwcUint8(chw, h, w, size, isByte), 'uint8', [size, size, 3]);
    }
  }
  await writer.closeShard(shard);
  return { stimuli, imageSize: size };
}

function parseCtab(text: string): Map<number, string> {
  const m = new Map<number, string>();
  for (const line of text.split('\n')) {
    const p = line.trim().split(/\s+/);
    if (p.length >= 2 && /^\d+$/.test(p[0])) m.set(Number(p[0]), p[1]);
  }
  return m;
}

async function importRois(opts: NsdImageryOptions, s: string, idx: Int32Array, maskShape: number[], maskPath: string, warnings: string[]): Promise<Roi[]> {
  const { tree, writer } = opts;
  const rois: Roi[] = [];
  const shard = `${s}/rois.bin`;
  let colour = 0;
  for (const vol of ROI_VOLUMES) {
    const p = `${NSD_PATHS.roiDir(s)}/${vol.name}.nii.gz`;
    const src = await tree.open(p);
    if (!src) continue;
    opts.onSource?.(p);
    const { header, data } = await readNifti(src);
    if (header.shape.slice(0, 3).join() !== maskShape.join()) {
      throw new FormatError(`${tree.label}/${p}`, `shape [${header.shape}] differs from the mask ${tree.label}/${maskPath} [${maskShape}]`, { field: 'dim', expected: `[${maskShape}]` });
    }
    const ctabPath = NSD_PATHS.ctab(s, vol.name);
    const ctabSrc = await tree.open(ctabPath);
    const names = ctabSrc ? parseCtab(new TextDecoder().decode(await ctabSrc.read(0, ctabSrc.size))) : new Map<number, string>();
    if (ctabSrc) opts.onSource?.(ctabPath);
    else warnings.push(`${ctabPath} missing: ROIs of ${vol.name} are named by label number`);
    const byLabel = new Map<number, number[]>();
    for (let v = 0; v < idx.length; v++) {
      const l = Math.round(data[idx[v]]);
      if (l <= 0) continue;
      const list = byLabel.get(l);
      if (list) list.push(v);
      else byLabel.set(l, [v]);
    }
    for (const [label, voxels] of [...byLabel].sort((a, b) => a[0] - b[0])) {
      const name = names.get(label) ?? `${vol.name} ${label}`;
      rois.push({
        name,
        color: ROI_PALETTE[colour++ % ROI_PALETTE.length],
        group: vol.group(name),
        voxels: writer.addTensor(shard, Int32Array.from(voxels), 'int32', [voxels.length]),
      });
    }
  }
  if (!rois.length) warnings.push(`no ROI volumes under ${tree.label}/${NSD_PATHS.roiDir(s)}: no ROIs`);
  else await writer.closeShard(shard);
  return rois;
}
