// Validation of a whole bundle, collecting every problem instead of stopping at the first:
// manifest JSON + schema, cross-references and shapes, each shard's size and sha256, and the index
// tensors (ROI voxels, voxel -> vertex map, surface faces) against what they index.
// `mirage validate DIR` prints the report; the loader uses the same checks and throws.
import { z } from 'zod';
import {
  BundleValidationError,
  checkFaces,
  checkManifest,
  checkShardBytes,
  checkVoxelIndices,
  checkVoxelToVertex,
} from './checks.ts';
import { AbortError, BundleError } from '../base/errors.ts';
import type { ByteProgress } from '../base/progress.ts';
import { decodeRef } from './decodeTensor.ts';
import { MANIFEST_FILE, ManifestSchema, tensorByteLength, type Manifest, type Shard } from './manifest.ts';
import type { ReadOptions, ShardSource } from './source.ts';

/**
 * Largest manifest.json read (32 MiB; the demo's is 0.4 MB, a full NSD-Imagery bundle a few MB): a
 * 100 MB manifest would take over 1 GB to parse and schema-check.
 */
export const MAX_MANIFEST_BYTES = 32 << 20;
/** Deepest JSON nesting accepted; the schema's own nesting is under 10. Checked without recursion. */
export const MAX_JSON_DEPTH = 64;

/**
 * Reads manifest.json, refusing one over MAX_MANIFEST_BYTES before reading it when the source can
 * tell its size (stat, HEAD, Blob.size), else right after.
 */
export async function readManifestBytes(source: ShardSource, opts: Pick<ReadOptions, 'signal' | 'onProgress'> = {}): Promise<Uint8Array> {
  const tooBig = (n: number) =>
    new BundleError(MANIFEST_FILE, `is ${n} bytes; refused`, { expected: `a manifest of at most ${MAX_MANIFEST_BYTES} bytes` });
  const size = source.size ? await source.size(MANIFEST_FILE, { signal: opts.signal }) : undefined;
  if (size !== undefined && size > MAX_MANIFEST_BYTES) throw tooBig(size);
  const bytes = await source.read(MANIFEST_FILE, opts);
  if (bytes.byteLength > MAX_MANIFEST_BYTES) throw tooBig(bytes.byteLength);
  return bytes;
}

/** Refuses JSON nested deeper than MAX_JSON_DEPTH (the schema and checks recurse; 20 000 levels overflow the stack). */
export function checkJsonDepth(json: unknown, file = MANIFEST_FILE): void {
  const stack: Array<{ v: unknown; depth: number; path: PropertyKey[] }> = [{ v: json, depth: 0, path: [] }];
  while (stack.length) {
    const { v, depth, path } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) {
      throw new BundleError(file, `nested more than ${MAX_JSON_DEPTH} levels deep; refused`, { field: fieldPath(path), expected: `JSON nested at most ${MAX_JSON_DEPTH} levels` });
    }
    // Paths are only kept for the first levels' report; deeper entries share their parent's.
    const push = (k: PropertyKey, x: unknown) => {
      if (x !== null && typeof x === 'object') stack.push({ v: x, depth: depth + 1, path: depth < 8 ? [...path, k] : path });
    };
    if (Array.isArray(v)) for (let i = 0; i < v.length; i++) push(i, v[i]);
    else for (const k in v) push(k, (v as Record<string, unknown>)[k]);
  }
}

export interface ValidationReport {
  ok: boolean;
  errors: BundleError[];
  warnings: string[];
  /** The parsed manifest when it passed the schema. */
  manifest?: Manifest;
}

/** "subjects[0].heads[1].A.offset" from zod's ["subjects", 0, "heads", 1, "A", "offset"]. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(root)';
}

function valueAt(json: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = json;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object') return 'an object';
  const s = JSON.stringify(v);
  return `${typeof v} ${s.length > 60 ? `${s.slice(0, 57)}...` : s}`;
}

/** One BundleError per schema problem, each naming the field path and what was expected. */
export function manifestSchemaErrors(json: unknown, file = MANIFEST_FILE): BundleError[] {
  return checkSchema(json, file).errors;
}

/** One zod pass (it is the slow part of opening a large manifest): the manifest or its errors. */
function checkSchema(json: unknown, file: string): { manifest?: Manifest; errors: BundleError[] } {
  const r = ManifestSchema.safeParse(json);
  if (r.success) return { manifest: r.data, errors: [] };
  return { errors: schemaIssues(json, file, r.error.issues) };
}

function schemaIssues(json: unknown, file: string, issues: z.core.$ZodIssue[]): BundleError[] {
  return issues.map((issue: z.core.$ZodIssue) => {
    const field = fieldPath(issue.path);
    const got = valueAt(json, issue.path);
    const m = /expected (.*)$/i.exec(issue.message);
    let expected = m ? m[1].replace(/, received .*$/, '') : undefined;
    if (issue.code === 'invalid_type') expected = issue.expected;
    if (issue.code === 'unrecognized_keys') return new BundleError(file, issue.message, { field });
    return new BundleError(file, got === undefined ? 'missing' : `got ${describe(got)}`, {
      field,
      expected: expected ?? issue.message,
    });
  });
}

/** Parses and schema-checks manifest JSON; throws a BundleError naming every bad field path. */
export function parseManifest(json: unknown, file = MANIFEST_FILE): Manifest {
  const { manifest, errors } = checkSchema(json, file);
  if (errors.length === 1) throw errors[0];
  if (errors.length || !manifest) throw new BundleValidationError(errors);
  return manifest;
}

/** Decodes manifest.json bytes (JSON syntax errors name the line and column). */
export function parseManifestBytes(bytes: Uint8Array, file = MANIFEST_FILE): Manifest {
  return parseManifest(manifestJson(bytes, file), file);
}

export function manifestJson(bytes: Uint8Array, file = MANIFEST_FILE): unknown {
  const text = new TextDecoder().decode(bytes);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new BundleError(file, `not valid JSON: ${(e as Error).message}`, { expected: 'a JSON object' });
  }
  checkJsonDepth(json, file);
  return json;
}

export interface ValidateOptions {
  /** 'full' (default): read every shard and check its sha256. 'sizes': check only sizes (fast). */
  verify?: 'full' | 'sizes';
  signal?: AbortSignal;
  onProgress?: (p: ByteProgress) => void;
}

/** Checks a whole bundle and reports every problem found (never throws on bad input). */
export async function validateBundle(source: ShardSource, opts: ValidateOptions = {}): Promise<ValidationReport> {
  const errors: BundleError[] = [];
  const warnings: string[] = [];
  const report = (manifest?: Manifest): ValidationReport => ({ ok: errors.length === 0, errors, warnings, manifest });
  const collect = (e: unknown) => {
    if (e instanceof AbortError) throw e;
    if (e instanceof BundleValidationError) errors.push(...e.errors);
    else if (e instanceof BundleError) errors.push(e);
    else errors.push(new BundleError(MANIFEST_FILE, `unexpected failure: ${(e as Error)?.message ?? e}`));
  };

  let json: unknown;
  try {
    json = manifestJson(await readManifestBytes(source, { signal: opts.signal }));
  } catch (e) {
    collect(e);
    return report();
  }
  const schema = checkSchema(json, MANIFEST_FILE);
  if (!schema.manifest) {
    errors.push(...schema.errors);
    return report();
  }
  const manifest = schema.manifest;
  const consistency = checkManifest(manifest);
  errors.push(...consistency.errors);
  warnings.push(...consistency.warnings);
  if (manifest.provenance.kind === 'simulated')
    warnings.push(`${MANIFEST_FILE}: provenance.kind: this bundle is simulated data`);

  // Shards: whole reads (sha256) or sizes only.
  const verified = new Map<string, Uint8Array>();
  // Only shards holding index tensors are kept after hashing (memory stays bounded on large bundles).
  const indexShards = new Set<string>();
  for (const s of manifest.subjects) {
    for (const r of s.rois) indexShards.add(r.voxels.shard);
    if (s.voxelToVertex) indexShards.add(s.voxelToVertex.shard);
    for (const sf of s.surfaces) indexShards.add(sf.faces.shard);
  }
  const total = manifest.shards.reduce((a, s) => a + s.bytes, 0);
  let before = 0;
  for (const [i, shard] of manifest.shards.entries()) {
    if (opts.signal?.aborted) throw new AbortError();
    try {
      if (opts.verify === 'sizes') {
        const size = source.size ? await source.size(shard.path, { signal: opts.signal }) : undefined;
        if (size === undefined) {
          // No cheap size: read it (still no hash).
          const bytes = await source.read(shard.path, { signal: opts.signal });
          if (bytes.byteLength !== shard.bytes) errors.push(sizeError(shard, i, bytes.byteLength));
        } else if (size !== shard.bytes) errors.push(sizeError(shard, i, size));
      } else {
        const base = before;
        const bytes = await source.read(shard.path, {
          signal: opts.signal,
          sha256: shard.sha256,
          onProgress: (l) =>
            opts.onProgress?.({ loadedBytes: base + Math.min(l, shard.bytes), totalBytes: total, file: shard.path }),
        });
        const e = await checkShardBytes(shard, i, bytes);
        if (e) errors.push(e);
        else if (indexShards.has(shard.path)) verified.set(shard.path, bytes);
      }
    } catch (e) {
      collect(e);
    }
    before += shard.bytes;
    opts.onProgress?.({ loadedBytes: before, totalBytes: total, file: shard.path });
  }

  // Index tensors, from verified shards only (a corrupt shard is already reported).
  const read = (ref: Parameters<typeof decodeRef>[1]) => {
    const bytes = verified.get(ref.shard);
    return bytes && ref.offset + tensorByteLength(ref) <= bytes.byteLength ? decodeRef(bytes, ref) : undefined;
  };
  manifest.subjects.forEach((s, si) => {
    s.rois.forEach((roi, ri) => {
      const v = read(roi.voxels);
      const e = v && checkVoxelIndices(v, s.voxelCount, `subjects[${si}].rois[${ri}].voxels`);
      if (e) errors.push(e);
    });
    const counts: (number | undefined)[] = [0, 1].map(
      (h) => s.surfaces.find((x) => x.hemi === (h ? 'rh' : 'lh'))?.vertexCount,
    );
    if (s.voxelToVertex) {
      const v = read(s.voxelToVertex);
      const e = v && checkVoxelToVertex(v, counts, `subjects[${si}].voxelToVertex`);
      if (e) errors.push(e);
    }
    s.surfaces.forEach((sf, i) => {
      const v = read(sf.faces);
      const e = v && checkFaces(v, sf.vertexCount, `subjects[${si}].surfaces[${i}].faces`);
      if (e) errors.push(e);
    });
  });
  return report(manifest);
}

function sizeError(shard: Shard, i: number, got: number): BundleError {
  return new BundleError(shard.path, `wrong size: ${got} bytes`, {
    field: 'bytes',
    expected: `${shard.bytes} bytes (manifest.json shards[${i}].bytes)`,
  });
}
