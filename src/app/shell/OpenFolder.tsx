// "Open folder" button and a whole-window drop zone for local bundles (read in the worker with
// FileListShardSource; nothing is uploaded anywhere).
import { useEffect, useState } from 'react';
import { useBundleStore } from '../../state/bundleStore.ts';
import { openBundle } from '../actions.ts';
import { clearImageCache } from '../common/TensorImage.tsx';
import { filesFromDrop, filesFromInput, folderLabel, hasManifest } from './localFiles.ts';
import { FilePicker } from '../common/controls.tsx';

function openFiles(label: string, files: Map<string, Blob>) {
  if (!hasManifest(files)) {
    const id = useBundleStore.getState().startLoading({ kind: 'files', label, files });
    useBundleStore.getState().setError(id, {
      context: 'opening a local folder',
      message: 'the folder has no manifest.json (pick the bundle folder itself, e.g. public/demo)',
      file: 'manifest.json',
    });
    return;
  }
  clearImageCache();
  void openBundle({ kind: 'files', label, files });
}

export function OpenFolderButton() {
  return <FilePicker label="Open folder…" folder testid="folder-input" title="Open a bundle folder from this computer" onFiles={(list) => openFiles(folderLabel(list), filesFromInput(list))} />;
}

export function DropZone() {
  const [active, setActive] = useState(false);
  useEffect(() => {
    let depth = 0;
    const hasFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes('Files');
    const enter = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      depth++;
      setActive(true);
    };
    const leave = () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) setActive(false);
    };
    const over = (e: DragEvent) => {
      if (hasFiles(e)) e.preventDefault();
    };
    const drop = (e: DragEvent) => {
      if (!e.dataTransfer || !hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      setActive(false);
      const first = e.dataTransfer.items[0]?.webkitGetAsEntry?.();
      void filesFromDrop(e.dataTransfer).then((files) => openFiles(first?.name ?? 'dropped files', files));
    };
    window.addEventListener('dragenter', enter);
    window.addEventListener('dragleave', leave);
    window.addEventListener('dragover', over);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragenter', enter);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('dragover', over);
      window.removeEventListener('drop', drop);
    };
  }, []);
  if (!active) return null;
  return (
    <div className="dropzone" aria-hidden="true">
      <div className="dropzone__inner">Drop a bundle folder (with manifest.json) to open it</div>
    </div>
  );
}
