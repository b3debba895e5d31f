// The one loader every pack kind goes through (model packs in generate/, metric and encoding packs
// in evaluate/): a JSON manifest with provenance and a `files[]` list (path, bytes, sha256), read
// through the same ShardSource as bundles. Each kind adds its own schema and cross-checks; reading
// the manifest, checking that referenced paths are listed, and reading each file with its size and
// sha256 verified (with byte progress and abort) happen here, once.
import { z } from 'zod';
import { BundleError, throwIfAborted } from '../base/errors.ts';
import type { ByteProgress } from '../base/progress.ts';
import { sha256Hex } from './sha256.ts';
import type { ShardSource } from './source.ts';
import type { ShardSink } from './writer.ts';

/** A path inside a pack: relative, forward slashes, never leaving the pack. */
export const PackPathSchema = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..') && !p.includes('\\'), {
    message: 'expected a relative path inside the pack (no "..", no leading "/")',
  });

/** Where a pack came from: real weights, a stand-in at the real shapes, or simulated. */
export const PackProvenanceSchema = z.object({
  kind: z.enum(['real', 'stand-in', 'simulated']),
  command: z.string(),
  createdAt: z.string(),
  notes: z.string().optional(),
});

/** One file of a pack, with the size and checksum it is verified against before use. */
export const PackFileSchema = z.object({
  path: PackPathSchema,
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits (sha256)'),
});
export type PackFile = z.infer<typeof PackFileSchema>;

export const TENSOR_DTYPES = ['float32', 'float16', 'int64', 'int32', 'uint8'] as const;
/** An ONNX graph input or output a pack names by role. */
export const TensorSpecSchema = z.object({
  /** The ONNX value name. */
  name: z.string().min(1),
  dtype: z.enum(TENSOR_DTYPES),
  /** Dimensions; strings are symbolic (e.g. "batch", "seq"). */
  shape: z.array(z.union([z.number().int().positive(), z.string().min(1)])),
});
export type TensorSpec = z.infer<typeof TensorSpecSchema>;

/**
 * A pack kind's manifest schema: the fields every pack has — format, version, name, description,
 * provenance, files — in that order (the order written manifests keep), then the kind's own.
 */
export function packManifestSchema<F extends string, V extends number, S extends z.ZodRawShape>(format: F, version: V, shape: S) {
  return z.object({
    format: z.literal(format),
    version: z.literal(version),
    name: z.string(),
    description: z.string().optional(),
    provenance: PackProvenanceSchema,
    files: z.array(PackFileSchema),
    ...shape,
  });
}

/** Validates a parsed manifest against a pack kind's schema; a BundleError names the first bad field. */
export function parsePackManifest<S extends z.ZodType>(schema: S, json: unknown, file: string): z.infer<S> {
  const r = schema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new BundleError(file, issue.message, { field: issue.path.join('.') || '(root)' });
  }
  return r.data;
}

/** Checks that each referenced path (with the manifest field that names it) is listed in files[]. */
export function requireListed(files: readonly PackFile[], file: string, refs: readonly (readonly [path: string, field: string])[]): void {
  const listed = new Set(files.map((f) => f.path));
  for (const [p, field] of refs) {
    if (!listed.has(p)) throw new BundleError(file, `"${p}" is not listed in files`, { field, expected: 'a path listed in files[]' });
  }
}

/** Reads and JSON-parses a pack's manifest file; `what` says which kind of pack was expected. */
export async function readPackJson(source: ShardSource, manifestFile: string, what: string, signal?: AbortSignal): Promise<unknown> {
  const raw = await source.read(manifestFile, { signal });
  try {
    return JSON.parse(new TextDecoder().decode(raw));
  } catch (e) {
    throw new BundleError(`${source.label}/${manifestFile}`, 'not valid JSON', { cause: e, expected: what });
  }
}

export interface PackReadOptions {
  signal?: AbortSignal;
  /** Bytes read so far of all the files of this call, and the file being read. */
  onProgress?: (p: ByteProgress) => void;
  /** false: sizes only, no sha256 (default true). */
  verify?: boolean;
}

/**
 * Reads files of a pack (default: every listed file) in order, each checked against its listed
 * size and sha256. Errors name `<source>/<path>` and the files[] field that disagreed.
 */
export async function readPackFiles(source: ShardSource, files: readonly PackFile[], paths?: readonly string[], opts: PackReadOptions = {}): Promise<Map<string, Uint8Array>> {
  const entries = (paths ?? files.map((f) => f.path)).map((p) => {
    const e = files.find((f) => f.path === p);
    if (!e) throw new BundleError(`${source.label}/${p}`, 'not listed in the pack manifest', { field: 'files[].path', expected: p });
    return e;
  });
  const totalBytes = entries.reduce((a, f) => a + f.bytes, 0);
  let done = 0;
  const out = new Map<string, Uint8Array>();
  for (const f of entries) {
    throwIfAborted(opts.signal);
    const where = `${source.label}/${f.path}`;
    const bytes = await source.read(f.path, {
      signal: opts.signal,
      sha256: f.sha256,
      size: f.bytes,
      onProgress: opts.onProgress && ((l) => opts.onProgress!({ loadedBytes: done + l, totalBytes, file: f.path })),
    });
    if (bytes.byteLength !== f.bytes) throw new BundleError(where, `file has ${bytes.byteLength} bytes`, { field: 'files[].bytes', expected: `${f.bytes}` });
    if (opts.verify !== false) {
      const h = await sha256Hex(bytes);
      if (h !== f.sha256) throw new BundleError(where, `sha256 ${h} does not match the manifest`, { field: 'files[].sha256', expected: f.sha256 });
    }
    done += f.bytes;
    opts.onProgress?.({ loadedBytes: done, totalBytes, file: f.path });
    out.set(f.path, bytes);
  }
  return out;
}

/** One listed file of a pack, size and sha256 checked. */
export async function readPackFile(source: ShardSource, files: readonly PackFile[], path: string, opts: PackReadOptions = {}): Promise<Uint8Array> {
  return (await readPackFiles(source, files, [path], opts)).get(path)!;
}

/** Writes a pack's files to a sink and keeps the files[] entries (size, sha256) for its manifest. */
export class PackFileWriter {
  readonly files: PackFile[] = [];
  constructor(private readonly sink: ShardSink, private readonly prefix = '') {}

  async add(path: string, bytes: Uint8Array): Promise<string> {
    await this.sink.write(this.prefix + path, bytes);
    this.files.push({ path, bytes: bytes.byteLength, sha256: await sha256Hex(bytes) });
    return path;
  }

  /** The manifest, last (a reader that finds it finds every file it lists). */
  async writeManifest(manifestFile: string, manifest: unknown, indent?: number): Promise<void> {
    await this.sink.write(this.prefix + manifestFile, new TextEncoder().encode(JSON.stringify(manifest, null, indent)));
  }
}
