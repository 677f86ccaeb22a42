export { info, setThreads, liveObjects, type Info } from "./runtime.js";
export { tensor, matmul, type Tensor, type TypedArray } from "./tensor.js";
export { NativeAddonError } from "./native/load.js";
export * from "./data/index.js";
