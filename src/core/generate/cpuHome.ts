// The CPU tensor home (sampler 'typescript'): sampler.ts's loop over CPU arrays, the img2img
// noising, CFG's zero padding and the retrieval scores in TypeScript. Every stage output is brought
// to the CPU (a download, counted, when a stage runs on WebGPU anyway). See tensorHome.ts.
import { ort } from '../onnx/runtime.ts';
import { cosine } from '../tensor/vector.ts';
import { concatRows, repeatRows } from './batching.ts';
import { normalizeTokens } from './preprocess.ts';
import { diffuse, sample, type Denoiser } from './sampler.ts';
import type { PackSessions } from './sessions.ts';
import type { Transfers } from './transfers.ts';
import { product, type DenoiserStage, type SampleRun, type TensorHome } from './tensorHome.ts';
import type { StageName } from './modelPack.ts';

const values = (t: ort.Tensor): Float32Array => t.data as Float32Array;
const cpuTensor = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);

/** A denoiser stage for sampler.ts: the conditioning rows prepared once per run, fed with every x. */
class StageDenoiser implements Denoiser {
  constructor(
    private readonly sessions: PackSessions,
    private readonly stage: DenoiserStage,
    /** role -> the rows the sampler's guidance asks for ([cond; uncond] with CFG, cond without). */
    private readonly cond: Record<string, Float32Array>,
    private readonly io: Transfers,
  ) {}

  async predict(x: Float32Array, r: number, rows: number): Promise<Float32Array> {
    const feeds: Record<string, { data: Float32Array; bind: Record<string, number> }> = {
      x: { data: x, bind: { batch: rows } },
      r: { data: new Float32Array(rows).fill(r), bind: { batch: rows } },
    };
    for (const [role, data] of Object.entries(this.cond)) feeds[role] = { data, bind: { batch: rows } };
    const out = await this.sessions.run(this.stage, feeds, ['pred'] as const, this.io);
    return out.pred.data;
  }
}

export class CpuHome implements TensorHome {
  readonly kind = 'typescript' as const;

  constructor(
    private readonly sessions: PackSessions,
    private readonly io: Transfers,
  ) {}

  async upload(data: Float32Array, dims: number[]): Promise<ort.Tensor> {
    return cpuTensor(data, dims);
  }

  async run(stage: StageName, feeds: Record<string, ort.Tensor>, output: string): Promise<ort.Tensor> {
    const t = (await this.sessions.runTensors(stage, feeds, [output], this.io))[output];
    const dims = [...t.dims];
    return cpuTensor(await this.io.toCpu(t, `${stage}/${output}`), dims);
  }

  async diffuse(latent: ort.Tensor, rowDims: number[], batch: number, t: number, noise: Float32Array): Promise<ort.Tensor> {
    return cpuTensor(diffuse(repeatRows(values(latent), batch), t, noise), [batch, ...rowDims]);
  }

  async padZeros(x: ort.Tensor): Promise<ort.Tensor> {
    const [rows, ...rest] = x.dims;
    return cpuTensor(concatRows(values(x), new Float32Array(x.size)), [2 * rows, ...rest]);
  }

  async sample({ stage, cond, schedule, rowDims, xInit, onStep }: SampleRun): Promise<ort.Tensor> {
    const rows = Object.fromEntries(Object.entries(cond).map(([role, t]) => [role, values(t)]));
    const denoiser = new StageDenoiser(this.sessions, stage, rows, this.io);
    const x = await sample(denoiser, { ...schedule, latentSize: product(rowDims), xInit: xInit && values(xInit), onStep });
    return cpuTensor(x, [schedule.batch, ...rowDims]);
  }

  async splitRows(x: ort.Tensor, rowDims: number[], batch: number, per: number): Promise<ort.Tensor[]> {
    const size = product(rowDims);
    const out: ort.Tensor[] = [];
    for (let k0 = 0; k0 < batch; k0 += per) {
      const rows = Math.min(per, batch - k0);
      out.push(cpuTensor(values(x).subarray(k0 * size, (k0 + rows) * size), [rows, ...rowDims]));
    }
    return out;
  }

  async scores(hidden: ort.Tensor, target: ort.Tensor, rows: number, _tokens: number, dim: number): Promise<number[]> {
    const h = values(hidden);
    const len = h.length / rows;
    const s: number[] = [];
    for (let j = 0; j < rows; j++) s.push(cosine(normalizeTokens(h.slice(j * len, (j + 1) * len), dim), values(target)));
    return s;
  }
}
