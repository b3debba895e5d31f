// The one definition of how every headless run launches Debian's chromium (browser tests and
// browser benchmarks alike): WebGPU enabled (SwiftShader on machines without a GPU) and every
// background fetch turned off, since this machine has no internet and must never download.
export const CHROMIUM = process.env.MIRAGE_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
];
