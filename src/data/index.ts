// The data pipeline's public surface.
export { Loader, type Batch, type LoaderState, type LoaderMetrics } from "./loader.js";
export { loaderSchema, viewsSchema, type LoaderInput, type LoaderOptions, type ViewsInput, type ViewsOptions } from "./config.js";
export { openDataset, type OpenOptions } from "./datasets/open.js";
export { DatasetError, type Dataset, type DatasetFormat, type SizeRange, type Split } from "./datasets/dataset.js";
export { DecodeError, decodeImage } from "./decode.js";
export { Random, type RandomState } from "./random.js";
export { planStep, GLOBAL_VIEWS, RECORD_COLUMNS, type StepPlan, type ViewGroupPlan } from "./plan.js";
export { randomResizedCrop, type CropRecord } from "./crops.js";
export { drawMask, blockMask, DEFAULT_MASK_OPTIONS, type BlockMask, type MaskOptions } from "./masks.js";
export { drawPhotometry, type GroupPhotometry, type ViewPhotometry } from "./photometric.js";
export { renderStep, renderGroups, IMAGENET_NORMALISATION, type RgbImage, type Normalisation } from "./render.js";
