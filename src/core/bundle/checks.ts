// Consistency checks of a bundle beyond its JSON schema: every tensor inside a listed shard,
// shapes that agree with each other, trials pointing at real subjects/stimuli, shard bytes that
// match their size and sha256, index tensors in range. Pure functions over a parsed manifest (and
// bytes), shared by the loader (which throws) and validateBundle (which collects).
import { BundleError } from '../base/errors.ts';
import {
  DTYPE_BYTES,
  DTYPES,
  MANIFEST_FILE,
  tensorByteLength,
  tensorElementCount,
  type Manifest,
  type Shard,
  type TensorRef,
} from './manifest.ts';
import { sha256Hex } from './sha256.ts';

/** Every problem found at once: the loader throws this so the page can list them all. */
export class BundleValidationError extends BundleError {
  readonly errors: BundleError[];
  constructor(errors: BundleError[]) {
    const first = errors[0];
    super(first.file, 'invalid bundle', { field: first.field, expected: first.expected });
    this.name = 'BundleError';
    // One line per problem, each already "file: field: message (expected …)".
    this.message = errors.map((e) => e.message).join('\n');
    this.errors = errors;
  }
}

const isRef = (v: unknown): v is TensorRef =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as TensorRef).shard === 'string' &&
  typeof (v as TensorRef).offset === 'number' &&
  (DTYPES as readonly string[]).includes((v as TensorRef).dtype) &&
  Array.isArray((v as TensorRef).shape);

/**
 * Every TensorRef in the manifest with its field path, e.g. subjects[0].heads[1].A. Extension blocks
 * are walked too: anything shaped like a TensorRef with a known dtype there is checked the same way.
 */
export function tensorRefs(m: Manifest): { ref: TensorRef; field: string }[] {
  const out: { ref: TensorRef; field: string }[] = [];
  const walk = (v: unknown, field: string) => {
    if (isRef(v)) {
      out.push({ ref: v, field });
      return;
    }
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${field}[${i}]`));
    else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        if (field === '' && (k === 'shards' || k === 'trials')) continue;
        walk(x, field ? `${field}.${k}` : k);
      }
    }
  };
  walk(m, '');
  return out;
}

const shapeStr = (s: number[]) => `[${s.join(', ')}]`;
const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export interface CheckResult {
  errors: BundleError[];
  warnings: string[];
}

/** Checks a TensorRef against the shard table: listed shard, bytes in bounds. */
export function checkRef(
  shards: Map<string, Shard>,
  ref: TensorRef,
  field: string,
  file = MANIFEST_FILE,
): BundleError | null {
  const shard = shards.get(ref.shard);
  if (!shard) {
    return new BundleError(file, `unknown shard "${ref.shard}"`, {
      field: `${field}.shard`,
      expected: 'a path listed in shards[]',
    });
  }
  const end = ref.offset + tensorByteLength(ref);
  if (end > shard.bytes) {
    return new BundleError(
      file,
      `${ref.dtype} ${shapeStr(ref.shape)} at offset ${ref.offset} ends at byte ${end}, past the end of shard ${ref.shard}`,
      {
        field: `${field}.offset`,
        expected: `offset + ${tensorByteLength(ref)} bytes <= ${shard.bytes} (the shard's size)`,
      },
    );
  }
  return null;
}

/** All manifest-only consistency checks (no shard bytes needed). */
export function checkManifest(m: Manifest, file = MANIFEST_FILE): CheckResult {
  const errors: BundleError[] = [];
  const warnings: string[] = [];
  const err = (field: string, message: string, expected?: string) =>
    errors.push(new BundleError(file, message, { field, expected }));

  const shards = new Map<string, Shard>();
  m.shards.forEach((s, i) => {
    if (shards.has(s.path)) err(`shards[${i}].path`, `duplicate shard "${s.path}"`, 'each shard listed once');
    if (s.path === MANIFEST_FILE) err(`shards[${i}].path`, 'manifest.json cannot be a shard');
    shards.set(s.path, s);
  });
  const used = new Set<string>();

  for (const { ref, field } of tensorRefs(m)) {
    used.add(ref.shard);
    const e = checkRef(shards, ref, field, file);
    if (e) errors.push(e);
  }

  const subjects = new Map<number, Manifest['subjects'][number]>();
  m.subjects.forEach((s, si) => {
    const f = `subjects[${si}]`;
    if (subjects.has(s.id)) err(`${f}.id`, `duplicate subject id ${s.id}`, 'unique subject ids');
    subjects.set(s.id, s);
    const V = s.voxelCount;
    if (s.voxelToVertex) {
      const r = s.voxelToVertex;
      if (r.dtype !== 'int32') err(`${f}.voxelToVertex.dtype`, `got ${r.dtype}`, 'int32');
      if (!sameShape(r.shape, [V, 2]))
        err(`${f}.voxelToVertex.shape`, `got ${shapeStr(r.shape)}`, `[${V}, 2] (voxelCount, 2)`);
    }
    const hemis = new Set<string>();
    s.surfaces.forEach((sf, i) => {
      const g = `${f}.surfaces[${i}]`;
      if (hemis.has(sf.hemi)) err(`${g}.hemi`, `duplicate hemisphere ${sf.hemi}`, 'one surface per hemisphere');
      hemis.add(sf.hemi);
      if (sf.faces.dtype !== 'int32' && sf.faces.dtype !== 'uint32')
        err(`${g}.faces.dtype`, `got ${sf.faces.dtype}`, 'int32');
      if (sf.faces.shape.length !== 2 || sf.faces.shape[1] !== 3)
        err(`${g}.faces.shape`, `got ${shapeStr(sf.faces.shape)}`, '[nFaces, 3]');
      for (const [k, r] of Object.entries(sf.shapes)) {
        if (!r) continue;
        if (r.dtype !== 'float32' && r.dtype !== 'float16') err(`${g}.shapes.${k}.dtype`, `got ${r.dtype}`, 'float32');
        if (!sameShape(r.shape, [sf.vertexCount, 3])) {
          err(`${g}.shapes.${k}.shape`, `got ${shapeStr(r.shape)}`, `[${sf.vertexCount}, 3] (vertexCount, 3)`);
        }
      }
    });
    const roiNames = new Set<string>();
    s.rois.forEach((roi, i) => {
      const g = `${f}.rois[${i}]`;
      if (roiNames.has(roi.name)) err(`${g}.name`, `duplicate ROI "${roi.name}"`, 'unique ROI names per subject');
      roiNames.add(roi.name);
      if (roi.voxels.dtype !== 'int32' && roi.voxels.dtype !== 'uint32')
        err(`${g}.voxels.dtype`, `got ${roi.voxels.dtype}`, 'int32');
      if (roi.voxels.shape.length !== 1)
        err(`${g}.voxels.shape`, `got ${shapeStr(roi.voxels.shape)}`, '[n] (a list of voxel indices)');
      else if (roi.voxels.shape[0] > V)
        err(`${g}.voxels.shape`, `${roi.voxels.shape[0]} voxels`, `at most voxelCount = ${V}`);
    });
    const headNames = new Set<string>();
    s.heads.forEach((h, i) => {
      const g = `${f}.heads[${i}]`;
      if (headNames.has(h.name)) err(`${g}.name`, `duplicate head "${h.name}"`, 'one head per name per subject');
      headNames.add(h.name);
      const out = h.outputShape.reduce((a, b) => a * b, 1);
      for (const k of ['A', 'B'] as const) {
        if (h[k].dtype !== 'float16' && h[k].dtype !== 'float32')
          err(`${g}.${k}.dtype`, `got ${h[k].dtype}`, 'float16 or float32');
      }
      if (!sameShape(h.A.shape, [V, h.rank]))
        err(`${g}.A.shape`, `got ${shapeStr(h.A.shape)}`, `[${V}, ${h.rank}] (voxelCount, rank)`);
      if (!sameShape(h.B.shape, [h.rank, out])) {
        err(
          `${g}.B.shape`,
          `got ${shapeStr(h.B.shape)}`,
          `[${h.rank}, ${out}] (rank, product of outputShape ${shapeStr(h.outputShape)})`,
        );
      }
      for (const k of ['intercept', 'targetMean', 'targetStd'] as const) {
        const r = h[k];
        if (!r) continue;
        if (r.dtype !== 'float32' && r.dtype !== 'float16') err(`${g}.${k}.dtype`, `got ${r.dtype}`, 'float32');
        if (tensorElementCount(r) !== out)
          err(
            `${g}.${k}.shape`,
            `got ${shapeStr(r.shape)} (${tensorElementCount(r)} values)`,
            `${out} values (outputShape ${shapeStr(h.outputShape)})`,
          );
      }
      if (h.rank > Math.min(V, out))
        warnings.push(`${file}: ${g}.rank: ${h.rank} exceeds min(voxelCount, outputSize) = ${Math.min(V, out)}`);
    });
    if (s.role === 'decoded' && s.heads.length === 0)
      warnings.push(`${file}: ${f}.heads: decoded subject ${s.id} has no heads`);
  });

  const stimuli = new Set<number>();
  m.stimuli.forEach((st, i) => {
    const f = `stimuli[${i}]`;
    if (stimuli.has(st.id)) err(`${f}.id`, `duplicate stimulus id ${st.id}`, 'unique stimulus ids');
    stimuli.add(st.id);
    for (const k of ['image', 'variants'] as const) {
      const r = st[k];
      if (!r) continue;
      const rank = k === 'image' ? 3 : 4;
      if (r.dtype !== 'uint8') err(`${f}.${k}.dtype`, `got ${r.dtype}`, 'uint8');
      if (r.shape.length !== rank || r.shape[rank - 1] !== 3)
        err(`${f}.${k}.shape`, `got ${shapeStr(r.shape)}`, k === 'image' ? '[H, W, 3]' : '[n, H, W, 3]');
      else if (r.shape[rank - 2] !== m.imageSize || r.shape[rank - 3] !== m.imageSize) {
        warnings.push(`${file}: ${f}.${k}.shape: ${shapeStr(r.shape)} is not imageSize ${m.imageSize}`);
      }
    }
  });

  // Trials can number in the tens of thousands: report the first few of each kind of problem.
  const MAX_PER_KIND = 20;
  const counts = new Map<string, number>();
  const terr = (kind: string, field: string, message: string, expected?: string) => {
    const n = (counts.get(kind) ?? 0) + 1;
    counts.set(kind, n);
    if (n <= MAX_PER_KIND) err(field, message, expected);
  };
  m.trials.forEach((t, i) => {
    const f = `trials[${i}]`;
    const s = subjects.get(t.subject);
    if (!s)
      terr('subject', `${f}.subject`, `unknown subject ${t.subject}`, `one of ${[...subjects.keys()].join(', ')}`);
    if (stimuli.size && !stimuli.has(t.stimulus))
      terr('stimulus', `${f}.stimulus`, `unknown stimulus ${t.stimulus}`, 'an id listed in stimuli[]');
    const cond = t.run.startsWith('vis') ? 'vision' : t.run.startsWith('img') ? 'imagery' : 'attention';
    if (cond !== t.condition) terr('condition', `${f}.condition`, `"${t.condition}" for run ${t.run}`, `"${cond}"`);
    used.add(t.betas.shard);
    const shard = shards.get(t.betas.shard);
    if (!shard) {
      terr('shard', `${f}.betas.shard`, `unknown shard "${t.betas.shard}"`, 'a path listed in shards[]');
    } else if (s) {
      const n = s.voxelCount * DTYPE_BYTES[s.betaDtype];
      if (t.betas.offset + n > shard.bytes) {
        terr(
          'offset',
          `${f}.betas.offset`,
          `betas at offset ${t.betas.offset} end at byte ${t.betas.offset + n}, past the end of shard ${shard.path}`,
          `offset + ${n} bytes (${s.voxelCount} ${s.betaDtype}) <= ${shard.bytes}`,
        );
      }
    }
  });
  for (const [kind, n] of counts) {
    if (n > MAX_PER_KIND)
      warnings.push(`${file}: trials: ${n - MAX_PER_KIND} more errors of the kind "${kind}" not listed`);
  }

  const outSize = new Map<string, number>();
  for (const s of m.subjects)
    for (const h of s.heads)
      outSize.set(
        h.name,
        h.outputShape.reduce((a, b) => a * b, 1),
      );
  m.features.forEach((fs, i) => {
    const f = `features[${i}]`;
    if (fs.values.shape[0] !== fs.ids.length)
      err(`${f}.values.shape`, `${fs.values.shape[0]} rows but ${fs.ids.length} ids`, 'one row per id');
    const want = outSize.get(fs.head);
    const per = fs.values.shape.slice(1).reduce((a, b) => a * b, 1);
    if (want !== undefined && per !== want)
      err(`${f}.values.shape`, `rows of ${per} values`, `${want} values per row (head "${fs.head}")`);
  });
  if (m.gallery && m.gallery.images.shape[0] !== m.gallery.captions.length) {
    err(
      'gallery.captions',
      `${m.gallery.captions.length} captions for ${m.gallery.images.shape[0]} images`,
      'one caption per image',
    );
  }
  m.reconstructions?.forEach((r, i) => {
    const f = `reconstructions[${i}]`;
    if (!subjects.has(r.subject)) err(`${f}.subject`, `unknown subject ${r.subject}`, 'a subject listed in subjects[]');
    if (r.images.shape[0] !== r.stimuli.length)
      err(`${f}.images.shape`, `${r.images.shape[0]} rows for ${r.stimuli.length} stimuli`, 'one row per stimulus');
  });

  m.shards.forEach((s, i) => {
    if (!used.has(s.path))
      warnings.push(`${file}: shards[${i}]: shard ${s.path} is not referenced by any tensor or trial`);
  });
  return { errors, warnings };
}

/** Size then sha256 of a whole shard's bytes; null when they match the manifest. */
export async function checkShardBytes(shard: Shard, index: number, bytes: Uint8Array): Promise<BundleError | null> {
  if (bytes.byteLength !== shard.bytes) {
    return new BundleError(shard.path, `wrong size: ${bytes.byteLength} bytes`, {
      field: 'bytes',
      expected: `${shard.bytes} bytes (manifest.json shards[${index}].bytes)`,
    });
  }
  const got = await sha256Hex(bytes);
  if (got !== shard.sha256) {
    return new BundleError(shard.path, `checksum mismatch, the shard is corrupt (sha256 ${got})`, {
      field: 'sha256',
      expected: `${shard.sha256} (manifest.json shards[${index}].sha256)`,
    });
  }
  return null;
}

/**
 * A check that every value is an index in [0, n) (NaN fails too); the first one that is not is
 * reported through `what` (value, position) against `expected(n)`.
 */
function indexRangeCheck(what: (v: number, i: number) => string, expected: (n: number) => string) {
  return (values: ArrayLike<number>, n: number, field: string, file = MANIFEST_FILE): BundleError | null => {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!(v >= 0 && v < n)) return new BundleError(file, what(v, i), { field, expected: expected(n) });
    }
    return null;
  };
}

/** Voxel indices of an ROI must be valid voxel numbers. */
export const checkVoxelIndices = indexRangeCheck(
  (v, i) => `voxel index ${v} at position ${i}`,
  (n) => `indices in [0, ${n}) (voxelCount)`,
);

/** Triangle indices within the surface. */
export const checkFaces = indexRangeCheck(
  (v, i) => `face vertex index ${v} (face ${Math.floor(i / 3)})`,
  (n) => `indices in [0, ${n})`,
);

/** voxelToVertex rows are (hemi 0|1, vertex) or (-1, -1) for none; vertex within that hemisphere's surface. */
export function checkVoxelToVertex(
  map: ArrayLike<number>,
  vertexCounts: (number | undefined)[],
  field: string,
  file = MANIFEST_FILE,
): BundleError | null {
  for (let i = 0; i < map.length; i += 2) {
    const h = map[i];
    const v = map[i + 1];
    if (v === -1) continue;
    const n = h === 0 || h === 1 ? vertexCounts[h] : undefined;
    if ((h !== 0 && h !== 1) || (n !== undefined && !(v >= 0 && v < n))) {
      return new BundleError(file, `voxel ${i / 2} maps to (hemi ${h}, vertex ${v})`, {
        field,
        expected: `hemi 0 (lh) or 1 (rh) and a vertex below that surface's vertexCount${n !== undefined ? ` (${n})` : ''}, or vertex -1`,
      });
    }
  }
  return null;
}

