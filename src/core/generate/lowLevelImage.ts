// The low-level branch's first stage: the decoded 'blurry' latents through the pack's low-level
// decoder (VDVAE in MIRAGE) to a small RGB image. The decoder's layers beyond the decoded ones are
// sampled from its prior with seeded noise; its output range and layout come from the manifest.
import { batchNoise } from '../base/rng.ts';
import { chwToRgb, vdvaeToRgb, type RgbImage } from '../base/image.ts';
import { elementCount } from './batching.ts';
import { settingNumber, settingNumbers } from './preprocess.ts';
import type { PackSessions } from './sessions.ts';
import type { Transfers } from './transfers.ts';

/** The low-level image of one trial's decoded latents (the same for both samplers). */
export async function decodeLowLevel(sessions: PackSessions, latents: Float32Array, seed: number, io: Transfers): Promise<RgbImage> {
  const st = sessions.pack.manifest.stages.lowLevelDecoder;
  const feeds: Record<string, { data: Float32Array; bind: Record<string, number> }> = {
    latents: { data: latents, bind: { batch: 1 } },
  };
  if (st.inputs.prior_noise) {
    // VDVAE's layers beyond the decoded ones: sampled from the prior with seeded noise.
    const priorN = elementCount(sessions, 'lowLevelDecoder', 'inputs', 'prior_noise');
    const temperature = settingNumber(st.settings, 'priorTemperature', 1);
    const noise = batchNoise(seed, 1, priorN, 'lowlevel/prior');
    if (temperature !== 1) for (let i = 0; i < noise.length; i++) noise[i] *= temperature;
    feeds.prior_noise = { data: noise, bind: { batch: 1 } };
  }
  const out = await sessions.run('lowLevelDecoder', feeds, ['px'] as const, io);
  const [lo, hi] = settingNumbers(st.settings, 'outputRange', [-1, 1]);
  if (st.settings.pixelLayout === 'nchw') {
    const [, , h, w] = out.px.dims;
    const scaled = out.px.data.map((v) => (v - lo) / (hi - lo));
    return chwToRgb(scaled, 0, w, h);
  }
  const [, h, w] = out.px.dims;
  const scaled = lo === -1 && hi === 1 ? out.px.data : out.px.data.map((v) => ((v - lo) / (hi - lo)) * 2 - 1);
  return vdvaeToRgb(scaled, w, h);
}
