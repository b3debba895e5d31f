// Draws a uint8 [H, W, 3] image tensor of the open bundle on a canvas. Pixels come from the decode
// worker (which holds the bundle); decoded images are cached per tensor reference.
import { useEffect, useRef, useState } from 'react';
import type { TensorRef } from '../../core/bundle/manifest.ts';
import { decodeClient } from '../workers.ts';

const cache = new Map<string, Promise<ImageData>>();

function refKey(ref: TensorRef): string {
  return `${ref.shard}@${ref.offset}:${ref.shape.join('x')}`;
}

/** The i-th image of a uint8 [n, H, W, 3] tensor, as its own reference (no copy of the others). */
export function imageOf(ref: TensorRef, i: number): TensorRef {
  const [, h, w, c] = ref.shape;
  return { shard: ref.shard, offset: ref.offset + i * h * w * c, dtype: ref.dtype, shape: [h, w, c] };
}

async function loadImage(ref: TensorRef): Promise<ImageData> {
  if (ref.dtype !== 'uint8' || ref.shape.length !== 3 || (ref.shape[2] !== 3 && ref.shape[2] !== 4)) {
    throw new Error(`expected a uint8 [H, W, 3] image tensor, got ${ref.dtype} [${ref.shape.join(', ')}] in ${ref.shard}`);
  }
  const [h, w, c] = ref.shape;
  const px = (await decodeClient().tensor(ref)) as Uint8Array;
  const rgba = new Uint8ClampedArray(w * h * 4);
  for (let i = 0, j = 0; i < w * h; i++, j += c) {
    rgba[4 * i] = px[j];
    rgba[4 * i + 1] = px[j + 1];
    rgba[4 * i + 2] = px[j + 2];
    rgba[4 * i + 3] = c === 4 ? px[j + 3] : 255;
  }
  return new ImageData(rgba, w, h);
}

export function TensorImage(props: { tensor: TensorRef; size?: number; label: string; className?: string }) {
  const { tensor, size = 160, label, className } = props;
  const canvas = useRef<HTMLCanvasElement>(null);
  const [error, setError] = useState<string | null>(null);
  const key = refKey(tensor);
  useEffect(() => {
    let live = true;
    let p = cache.get(key);
    if (!p) {
      p = loadImage(tensor);
      cache.set(key, p);
      p.catch(() => cache.delete(key));
    }
    p.then(
      (img) => {
        const c = canvas.current;
        if (!live || !c) return;
        c.width = img.width;
        c.height = img.height;
        // A CPU-backed canvas: putImageData never waits on the GPU process (under a software GPU it
        // is busy with the workers' WebGPU kernels, and the page's main thread would stall).
        c.getContext('2d', { willReadFrequently: true })?.putImageData(img, 0, 0);
        setError(null);
      },
      (e: unknown) => live && setError(e instanceof Error ? e.message : String(e)),
    );
    return () => {
      live = false;
    };
    // `tensor` is identified by `key`.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  if (error) {
    return (
      <div className={`tensor-image tensor-image--error ${className ?? ''}`} style={{ width: size, height: size }} role="alert">
        image unavailable: {error}
      </div>
    );
  }
  return <canvas ref={canvas} className={`tensor-image ${className ?? ''}`} style={{ width: size, height: size }} aria-label={label} role="img" />;
}

/** Clears cached images (a new bundle was opened). */
export function clearImageCache(): void {
  cache.clear();
}
