// The step-graph tensor home (sampler 'graphs'): the sampler's arithmetic as small ONNX graphs
// (gpuSteps.ts), each run where the stage that consumes its result runs, so that under WebGPU the
// latents stay on the device from the latent encoder to the pixel decoder; stage outputs stay where
// the session put them (sessions.ts's GPU_RESIDENT_OUTPUTS). Every crossing is counted in
// `Transfers` (docs/model-packs.md, "GPU residency"). See tensorHome.ts.
import { ort } from '../onnx/runtime.ts';
import { cosineScoreGraph, diffuseGraph, padZerosGraph, sampleOnGraphs, splitRowsGraph, type TensorDenoiser } from './gpuSteps.ts';
import type { Transfers } from './transfers.ts';
import { cosineLogSNR, vpScalers } from './sampler.ts';
import type { StageName } from './modelPack.ts';
import type { PackSessions } from './sessions.ts';
import { withDims, type DenoiserStage, type SampleRun, type TensorHome } from './tensorHome.ts';

/** A denoiser stage over runtime tensors: conditioning uploaded once per run, left on the device. */
class TensorStageDenoiser implements TensorDenoiser {
  constructor(
    private readonly sessions: PackSessions,
    private readonly stage: DenoiserStage,
    /** role -> the rows the sampler's guidance asks for ([cond; uncond] with CFG, cond without). */
    private readonly cond: Record<string, ort.Tensor>,
    private readonly io: Transfers,
  ) {}

  async predict(x: ort.Tensor, r: number, rows: number): Promise<ort.Tensor> {
    const feeds: Record<string, ort.Tensor> = { x, r: new ort.Tensor('float32', new Float32Array(rows).fill(r), [rows]), ...this.cond };
    return (await this.sessions.runTensors(this.stage, feeds, ['pred'] as const, this.io)).pred;
  }
}

export class GraphHome implements TensorHome {
  readonly kind = 'graphs' as const;

  constructor(
    private readonly sessions: PackSessions,
    private readonly io: Transfers,
  ) {}

  private get graphs() {
    return this.sessions.steps;
  }

  async upload(data: Float32Array, dims: number[], stage: StageName, label: string): Promise<ort.Tensor> {
    return this.io.hold(await this.graphs.upload(data, dims, this.sessions.onGpu(stage), this.io, label));
  }

  async run(stage: StageName, feeds: Record<string, ort.Tensor>, output: string): Promise<ort.Tensor> {
    return (await this.sessions.runTensors(stage, feeds, [output], this.io))[output];
  }

  async diffuse(latent: ort.Tensor, rowDims: number[], batch: number, t: number, noise: Float32Array, stage: StageName): Promise<ort.Tensor> {
    const { a, b } = vpScalers(cosineLogSNR(t));
    const feeds = {
      latent: withDims(latent, [1, ...rowDims]),
      noise: new ort.Tensor('float32', noise, [batch, ...rowDims]),
      coef: new ort.Tensor('float32', Float32Array.from([a, b]), [2]),
    };
    const out = await this.graphs.run(`diffuse|${batch}x${rowDims.join('x')}`, this.sessions.onGpu(stage), () => diffuseGraph(rowDims, batch), feeds, this.io);
    return out.x;
  }

  async padZeros(x: ort.Tensor, stage: StageName): Promise<ort.Tensor> {
    const dims = [...x.dims];
    const out = await this.graphs.run(`padZeros|${dims.join('x')}`, this.sessions.onGpu(stage), () => padZerosGraph(dims), { x }, this.io);
    return out.xz;
  }

  sample({ stage, cond, schedule, rowDims, xInit, onStep }: SampleRun): Promise<ort.Tensor> {
    const { io, graphs } = this;
    return sampleOnGraphs(new TensorStageDenoiser(this.sessions, stage, cond, io), { ...schedule, rowDims, xInit, onStep, onGpu: this.sessions.onGpu(stage), graphs, io });
  }

  async splitRows(x: ort.Tensor, rowDims: number[], batch: number, per: number, stage: StageName): Promise<ort.Tensor[]> {
    // split on the device only when there is more than one run
    if (per >= batch) return [x];
    const out = await this.graphs.run(`split|${batch}x${rowDims.join('x')}|${per}`, this.sessions.onGpu(stage), () => splitRowsGraph(rowDims, batch, per), { x }, this.io);
    return Array.from({ length: Math.ceil(batch / per) }, (_, k) => out[`row_${k}`]);
  }

  async scores(hidden: ort.Tensor, target: ort.Tensor, rows: number, tokens: number, dim: number, stage: StageName): Promise<number[]> {
    const h = withDims(hidden, [rows, tokens, dim]);
    const out = await this.graphs.run(`score|${rows}x${tokens}x${dim}`, this.sessions.onGpu(stage), () => cosineScoreGraph(tokens, dim, rows), { h, target }, this.io);
    this.io.release(hidden);
    return Array.from(await this.io.toCpu(out.score, 'retrieval/score'));
  }
}
