// Entry point of src/core/cortex: surfaces' voxel<->vertex maps, ROI sets, perturbations, the
// exact linear-change engine, drive-toward-target and lesion profiles.
export * from './types.ts';
export * from './mesh.ts';
export * from './vertexMap.ts';
export * from './roi.ts';
export * from './engine.ts';
export * from './drive.ts';
export * from './perturb.ts';
export * from './lesion.ts';
export { pinvSymmetric } from './linalg.ts';
export * from './session.ts';
export { TfRegionProduct, startRegionProduct, type RegionProduct, type RegionBackendInfo } from './tfRegion.ts';
export * from './lowLevel.ts';
