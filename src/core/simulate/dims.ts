// Feature dimensions and image sizes of the SIMULATED demo. Each is a small, documented stand-in for
// the size MIRAGE uses on real data (docs/background.md §3); docs/simulation.md explains every role.
// Other engineers (decode, generate, app) read these constants instead of hard-coding numbers.

/** Stimulus / gallery image size (pixels, square RGB). Real NSD-Imagery stimuli are 425x425. */
export const IMAGE_SIZE = 128;
/** Low-level (blurry) image size: the demo's VDVAE-role decoder outputs 64x64 RGB, like VDVAE. */
export const LOWLEVEL_SIZE = 64;

/** Image embedding (CLIP ViT-L/14 image embedding role; real: 768). */
export const IMAGE_EMBED_DIM = 128;

/** Text token embeddings of the caption (CLIP ViT-bigG/14 last hidden state role; real: 77 x 1280). */
export const TEXT_TOKENS = 16;
export const TEXT_DIM = 32;

/**
 * Hierarchical low-level latents, coarse to fine (VDVAE first-31-layers role; real: 91168 values).
 * Demo: 2-D DCT coefficients of the 64x64 image in YCbCr, grouped by octave of spatial frequency
 * (layer k holds the coefficients with max(u, v) in [2^(k-1), 2^k)); luminance to 16 cycles, chroma to 8.
 */
export const BLURRY_LAYERS = [3, 9, 36, 144, 192] as const;
export const BLURRY_DIM = BLURRY_LAYERS.reduce((a, b) => a + b, 0); // 384

/** Retrieval hidden states, each token L2-normalised (CLIP ViT-L/14 last hidden state role; real: 257 x 1024). */
export const RETRIEVAL_TOKENS = 17;
export const RETRIEVAL_DIM = 32;

/** Prompt features for caption decoding (GiT-large-coco image encoder role; real: 257 x 1024). */
export const PROMPT_TOKENS = 17;
export const PROMPT_DIM = 32;

/** Output shape of every head, in the manifest's head order. */
export const HEAD_SHAPES = {
  image: [IMAGE_EMBED_DIM],
  text: [TEXT_TOKENS, TEXT_DIM],
  blurry: [BLURRY_DIM],
  retrieval: [RETRIEVAL_TOKENS, RETRIEVAL_DIM],
  prompt: [PROMPT_TOKENS, PROMPT_DIM],
} as const;

/** Size of the simulated scene-semantics code that drives higher visual areas (no real counterpart). */
export const SEMANTIC_DIM = 32;

/** Default voxel count per subject (real nsdgeneral: 12682–17907; `--voxels 15724` scales to subject 1). */
export const DEFAULT_VOXELS = 2500;
export const NSD_SUBJ01_VOXELS = 15724;

/** Training images (each seen once in a training trial) and gallery thumbnails stored in the bundle. */
export const DEFAULT_TRAIN_IMAGES = 1000;
export const DEFAULT_GALLERY_IMAGES = 100;

/** Repeats per stimulus, as in NSD-Imagery: 8 vision, 16 imagery (two imagery runs of 8). */
export const VISION_REPEATS = 8;
export const IMAGERY_REPEATS = 16;

/** Subjects: decoded (have heads and trials) and tuning (only choose the ridge penalty), as MIRAGE. */
export const DECODED_SUBJECTS = [1, 2, 5, 7] as const;
export const TUNING_SUBJECTS = [3, 4, 6, 8] as const;
