// `mirage import nsd-betas`: NSD core-experiment betas as MindEye2 shares them
// (betas_all_subjXX_fp32_renorm.hdf5, dataset `betas`, (30000, nvox) float32, row =
// (session-1)*750 + trial, already z-scored per voxel on the training trials). The schema's Trial is
// an NSD-Imagery trial (run labels visA..attC), so core trials go in an extension block,
// `extensions.nsdCoreBetas`, one float16 tensor per session and shard, read a session at a time.
import type { TensorRef } from '../bundle/manifest.ts';
import type { BundleWriter, ManifestBody } from '../bundle/writer.ts';
import { FormatError } from '../formats/errors.ts';
import type { Hdf5RowReader } from '../formats/hdf5.ts';
import { assertFinite } from '../tensor/finite.ts';
import { yieldEvery, YIELD_MS } from '../base/yield.ts';
import { carryBundle, subjectDir, type ExistingBundle, type ImportContext } from './common.ts';

export const NSD_TRIALS_PER_SESSION = 750;

export interface NsdCoreBetasExtension {
  subject: number;
  source: string;
  layout: string;
  sessions: Array<{ session: number; firstRow: number; betas: TensorRef }>;
}

export interface NsdBetasOptions extends ImportContext {
  existing: ExistingBundle;
  writer: BundleWriter;
  reader: Hdf5RowReader;
  subject: number;
  /** 1-based sessions to import (default: all the file holds). */
  sessions?: number[];
  /** Rows per session (750 in NSD; smaller in tests). */
  sessionRows?: number;
  command: string;
}

export async function importNsdBetas(opts: NsdBetasOptions): Promise<{ body: ManifestBody; warnings: string[] }> {
  const { writer, existing, reader, subject } = opts;
  const per = opts.sessionRows ?? NSD_TRIALS_PER_SESSION;
  const [rows, nvox] = reader.shape;
  if (reader.shape.length !== 2) throw new FormatError(reader.file, `dataset has shape [${reader.shape}]`, { field: reader.dataset, expected: '(trials, voxels)' });
  const prefix = `${subjectDir(subject)}/nsd_core/`;
  const body = await carryBundle(writer, existing, (p) => p.startsWith(prefix));
  const subj = body.subjects.find((s) => s.id === subject);
  if (!subj) throw new FormatError('manifest.json', `no subject ${subject} in the bundle`, { field: 'subjects', expected: `one of ${body.subjects.map((s) => s.id).join(', ')}` });
  if (subj.voxelCount !== nvox) {
    throw new FormatError(reader.file, `${nvox} voxels per row but subject ${subject}'s mask has ${subj.voxelCount}`, { field: reader.dataset, expected: `(trials, ${subj.voxelCount})` });
  }
  const available = Math.ceil(rows / per);
  const sessions = opts.sessions ?? Array.from({ length: available }, (_, i) => i + 1);
  const ext: NsdCoreBetasExtension = { subject, source: reader.file, layout: `row = (session-1)*${per} + trial; z-scored as in the source file`, sessions: [] };
  const tick = yieldEvery(YIELD_MS, opts.signal);
  for (const [k, s] of sessions.entries()) {
    await tick();
    if (!Number.isInteger(s) || s < 1 || s > available) throw new FormatError(reader.file, `session ${s} is not in the file`, { field: reader.dataset, expected: `sessions 1..${available}` });
    const first = (s - 1) * per;
    const count = Math.min(per, rows - first);
    const block = await reader.readRows(first, count);
    assertFinite(reader.file, reader.dataset, block, { shape: [rows, nvox], offset: first * nvox, noun: 'beta', expected: 'finite betas' });
    const shard = `${prefix}session${String(s).padStart(2, '0')}.bin`;
    ext.sessions.push({ session: s, firstRow: first, betas: writer.addTensor(shard, block, 'float16', [count, nvox]) });
    await writer.closeShard(shard);
    opts.onProgress?.(k + 1, sessions.length, `session ${s}`);
  }
  body.extensions = { ...(body.extensions ?? {}), nsdCoreBetas: ext };
  body.provenance = { ...body.provenance, command: `${body.provenance.command} && ${opts.command}` };
  return { body, warnings: [] };
}
