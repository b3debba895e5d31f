// Turns a picked folder (<input webkitdirectory>) or dropped folder/files into the path -> Blob map
// that FileListShardSource reads (it resolves paths against the folder holding manifest.json).

/** Collected [path, Blob] pairs as a map; FileListShardSource finds the folder of manifest.json itself. */
function toMap(entries: Array<[string, Blob]>): Map<string, Blob> {
  return new Map(entries);
}

/** Whether the picked/dropped files contain a bundle manifest at any depth. */
export function hasManifest(files: Map<string, Blob>): boolean {
  return [...files.keys()].some((p) => p === 'manifest.json' || p.endsWith('/manifest.json'));
}

export function filesFromInput(list: FileList): Map<string, Blob> {
  return toMap(
    Array.from(list, (f) => [(f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name, f] as [string, Blob]),
  );
}

async function readEntry(entry: FileSystemEntry, path: string, out: Array<[string, Blob]>): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push([path, file]);
    return;
  }
  if (entry.isDirectory) {
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    // readEntries returns the listing in batches until an empty one.
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
      if (batch.length === 0) break;
      for (const child of batch) await readEntry(child, `${path}/${child.name}`, out);
    }
  }
}

export async function filesFromDrop(dt: DataTransfer): Promise<Map<string, Blob>> {
  const out: Array<[string, Blob]> = [];
  const entries = Array.from(dt.items)
    .map((item) => item.webkitGetAsEntry?.())
    .filter((e): e is FileSystemEntry => !!e);
  if (entries.length > 0) {
    for (const e of entries) await readEntry(e, e.name, out);
  } else {
    for (const f of Array.from(dt.files)) out.push([f.name, f]);
  }
  return toMap(out);
}

export function folderLabel(list: FileList | null, fallback = 'local folder'): string {
  const first = list?.[0] as (File & { webkitRelativePath?: string }) | undefined;
  return first?.webkitRelativePath?.split('/')[0] || fallback;
}
