// Regions of interest as voxel index sets: the bundle's ROIs plus ROIs users draw. Set algebra,
// and a small JSON format (voxel indices) so drawn ROIs can be saved, exported and shared.
import { z } from 'zod';
import { BundleError } from '../base/errors.ts';
import { sortedUnique } from './types.ts';

export interface RoiEntry {
  name: string;
  /** "#rrggbb". */
  color: string;
  group: 'early' | 'higher' | 'other';
  source: 'bundle' | 'user';
  /** Sorted unique voxel indices. */
  voxels: Int32Array;
}

/** An ROI as given to a set: voxel indices in any order, duplicates allowed. */
export type RoiInput = Omit<RoiEntry, 'voxels'> & { voxels: ArrayLike<number> };

export function union(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.length || j < b.length) {
    const x = j >= b.length || (i < a.length && a[i] <= b[j]) ? a[i++] : b[j++];
    if (n === 0 || out[n - 1] !== x) out[n++] = x;
  }
  return out.slice(0, n);
}

export function intersection(a: Int32Array, b: Int32Array): Int32Array {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] < b[j]) i++;
    else if (a[i] > b[j]) j++;
    else {
      out.push(a[i]);
      i++;
      j++;
    }
  }
  return Int32Array.from(out);
}

export function difference(a: Int32Array, b: Int32Array): Int32Array {
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < a.length; i++) {
    while (j < b.length && b[j] < a[i]) j++;
    if (j >= b.length || b[j] !== a[i]) out.push(a[i]);
  }
  return Int32Array.from(out);
}

/** An ordered, name-keyed collection of ROIs for one subject. */
export class RoiSet {
  readonly voxelCount: number;
  private readonly entries = new Map<string, RoiEntry>();

  constructor(voxelCount: number, rois: Iterable<RoiInput> = []) {
    this.voxelCount = voxelCount;
    for (const r of rois) this.add(r);
  }

  get names(): string[] {
    return [...this.entries.keys()];
  }

  list(): RoiEntry[] {
    return [...this.entries.values()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  get(name: string): RoiEntry {
    const r = this.entries.get(name);
    if (!r) throw new RangeError(`no ROI named "${name}" (have: ${this.names.join(', ') || 'none'})`);
    return r;
  }

  add(r: RoiInput): RoiEntry {
    if (!r.name.trim()) throw new RangeError('ROI name is empty');
    const prev = this.entries.get(r.name);
    if (prev && prev.source === 'bundle') throw new RangeError(`ROI "${r.name}" comes with the bundle and cannot be replaced`);
    const voxels = sortedUnique(r.voxels);
    if (voxels.length && (voxels[0] < 0 || voxels[voxels.length - 1] >= this.voxelCount)) {
      throw new RangeError(`ROI "${r.name}": voxel indices must lie in [0, ${this.voxelCount})`);
    }
    const e: RoiEntry = { name: r.name, color: r.color, group: r.group, source: r.source, voxels };
    this.entries.set(r.name, e);
    return e;
  }

  remove(name: string): void {
    const r = this.get(name);
    if (r.source === 'bundle') throw new RangeError(`ROI "${name}" comes with the bundle and cannot be removed`);
    this.entries.delete(name);
  }

  /** The ROIs a voxel belongs to, in set order. */
  roisOfVoxel(voxel: number): string[] {
    const out: string[] = [];
    for (const r of this.entries.values()) {
      // Binary search on the sorted voxel list.
      let lo = 0;
      let hi = r.voxels.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (r.voxels[mid] === voxel) {
          out.push(r.name);
          break;
        }
        if (r.voxels[mid] < voxel) lo = mid + 1;
        else hi = mid - 1;
      }
    }
    return out;
  }

  /** User-drawn ROIs as the exchange JSON. */
  exportUser(subject: number): RoiFile {
    return toRoiFile(subject, this.voxelCount, this.list().filter((r) => r.source === 'user'));
  }
}

export const ROI_FORMAT = 'mirage-rois';

const RoiFileSchema = z.object({
  format: z.literal(ROI_FORMAT),
  version: z.literal(1),
  subject: z.number().int().positive(),
  voxelCount: z.number().int().positive(),
  rois: z.array(
    z.object({
      name: z.string().min(1),
      color: z.string().regex(/^#[0-9a-fA-F]{6}$/, 'expected "#rrggbb"'),
      group: z.enum(['early', 'higher', 'other']).default('other'),
      voxels: z.array(z.number().int().nonnegative()),
    }),
  ),
});
export type RoiFile = z.infer<typeof RoiFileSchema>;

export function toRoiFile(subject: number, voxelCount: number, rois: RoiEntry[]): RoiFile {
  return {
    format: ROI_FORMAT,
    version: 1,
    subject,
    voxelCount,
    rois: rois.map((r) => ({ name: r.name, color: r.color, group: r.group, voxels: Array.from(r.voxels) })),
  };
}

/**
 * Parses and validates ROI JSON (text or parsed value). Errors are BundleErrors naming the file,
 * the field path and what was expected; the subject's voxel count bounds every index.
 */
export function parseRoiFile(input: string | unknown, expect: { subject?: number; voxelCount: number }, file = 'rois.json'): RoiEntry[] {
  let json: unknown = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (e) {
      throw new BundleError(file, `is not valid JSON: ${(e as Error).message}`, { expected: `a ${ROI_FORMAT} JSON document` });
    }
  }
  const parsed = RoiFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') || '(root)';
    throw new BundleError(file, issue.message, { field });
  }
  const f = parsed.data;
  if (expect.subject !== undefined && f.subject !== expect.subject) {
    throw new BundleError(file, `is for subject ${f.subject}`, { field: 'subject', expected: `${expect.subject}` });
  }
  if (f.voxelCount !== expect.voxelCount) {
    throw new BundleError(file, `declares ${f.voxelCount} voxels`, { field: 'voxelCount', expected: `${expect.voxelCount} (this subject's voxel count)` });
  }
  const seen = new Set<string>();
  return f.rois.map((r, i) => {
    if (seen.has(r.name)) throw new BundleError(file, `duplicate ROI name "${r.name}"`, { field: `rois[${i}].name`, expected: 'unique names' });
    seen.add(r.name);
    r.voxels.forEach((v, j) => {
      if (v >= f.voxelCount) throw new BundleError(file, `voxel index ${v}`, { field: `rois[${i}].voxels[${j}]`, expected: `< ${f.voxelCount}` });
    });
    return { name: r.name, color: r.color, group: r.group, source: 'user' as const, voxels: sortedUnique(r.voxels) };
  });
}
