// Runs an ONNX graph over many rendered images (uint8 HWC) in batches: one float32 NCHW tensor per
// batch, so a corpus of thousands never sits in memory as floats at once. Used wherever the
// simulation needs a graph's output for its training images (feature statistics, shape descriptors).
import { throwIfAborted } from '../base/errors.ts';
import { ort, type OrtSession } from '../onnx/runtime.ts';
import { IMAGE_SIZE } from './dims.ts';
import { toCHW } from './render.ts';

export async function runImageBatches(
  session: OrtSession,
  images: Uint8Array[],
  /** Called with each batch's outputs, the index of its first image and its size. */
  use: (outputs: Record<string, ort.Tensor>, start: number, count: number) => void,
  opts: { input?: string; batch?: number; signal?: AbortSignal } = {},
): Promise<void> {
  const batch = opts.batch ?? 50;
  const px = 3 * IMAGE_SIZE * IMAGE_SIZE;
  for (let s = 0; s < images.length; s += batch) {
    throwIfAborted(opts.signal);
    const m = Math.min(batch, images.length - s);
    const chw = new Float32Array(m * px);
    for (let i = 0; i < m; i++) toCHW(images[s + i], IMAGE_SIZE, chw, i * px);
    use(await session.run({ [opts.input ?? 'image']: new ort.Tensor('float32', chw, [m, 3, IMAGE_SIZE, IMAGE_SIZE]) }), s, m);
  }
}
