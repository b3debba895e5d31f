// The "./node" entry of the package (package.json "exports"): what Node scripts, benches, tests and
// the CLI need beyond the front door (src/index.ts): bundles and input files on disk, the one atomic
// writer, Ctrl-C as an AbortSignal, provenance hashing, the import runner and the wasm files' folder.
export { bundleSource, FsShardSource } from './fsSource.ts';
export { AtomicFolderSink, cleanLeftovers, writeAtomically, writeFileAtomically, type AtomicOptions, type LeftoverNote } from './atomic.ts';
export { fileSource, fsTree, readPngImage } from './files.ts';
export { INTERRUPTED_EXIT_CODE, interruptOnSignals, type Interrupt } from './interrupt.ts';
export { baseProvenance, GENERATOR, provenanceSources, sha256File } from './provenance.ts';
export { discoverHeads, GEMMS, gemmKernel, runImport, runMirageWeights, type GemmName, type ImportRun, type MirageWeightsRun } from './importRun.ts';
export { reconstructToFiles, type ReconstructFilesOptions } from './reconstructFiles.ts';
export { runDecode, type DecodeRun } from './decodeRun.ts';
export { describeRidgeFit, readMatrixNpy, runRidgeFit, writeRidgeFit } from './ridgeFiles.ts';
export { progressBar, type ProgressFn } from './progress.ts';
export { nodeWasmPaths } from './wasmPaths.ts';
