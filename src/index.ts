export { info, setThreads, liveObjects, type Info } from "./runtime.js";
export { tensor, matmul, type Tensor, type TypedArray } from "./tensor.js";
export { NativeAddonError } from "./native/load.js";
export { Model, type LoadOptions, type SaveOptions } from "./model/model.js";
export { ARCHITECTURES, modelOptionsSchema, type ModelOptions, type ResolvedModelOptions } from "./model/options.js";
export { type ImageBatch, IMAGENET_MEAN, IMAGENET_STD } from "./model/images.js";
export { readSafetensors, writeSafetensors } from "./io/safetensors.js";
export { ConfigError } from "./config/parse.js";
export { knnAccuracy, knnOptionsSchema, type KnnAccuracy, type KnnOptions } from "./eval/knn.js";
