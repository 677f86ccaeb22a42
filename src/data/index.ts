// The data pipeline's public surface.

export { type LoaderInput, type LoaderOptions, loaderSchema, type ViewsInput, type ViewsOptions, viewsSchema } from "./config.js";
export { type CropRecord, randomResizedCrop } from "./crops.js";
export {
  type Dataset,
  DatasetError,
  type DatasetFormat,
  requireLabelledSplits,
  requireLabels,
  type SizeRange,
  type Split,
} from "./datasets/dataset.js";
export { type OpenOptions, openDataset } from "./datasets/open.js";
export { DecodeError, decodeImage } from "./decode.js";
export { type Batch, Loader, type LoaderMetrics, type LoaderState } from "./loader.js";
export { type BlockMask, blockMask, DEFAULT_MASK_OPTIONS, drawMask, type MaskOptions } from "./masks.js";
export { drawPhotometry, type GroupPhotometry, type ViewPhotometry } from "./photometric.js";
export { GLOBAL_VIEWS, planStep, RECORD_COLUMNS, type StepPlan, type ViewGroupPlan } from "./plan.js";
export {
  planRandAugment,
  RAND_AUGMENT_DEFAULTS,
  RAND_AUGMENT_OPS,
  type RandAugmentOptions,
  type RandAugmentPlan,
  randAugmentSpace,
} from "./rand-augment.js";
export { Random, type RandomState } from "./random.js";
export { IMAGENET_NORMALISATION, type Normalisation, type RgbImage, renderGroups, renderStep } from "./render.js";
