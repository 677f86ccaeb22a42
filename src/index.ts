export {
  FINETUNE_PRESETS,
  type FinetuneConfig,
  type FinetuneConfigInput,
  type FinetunePresetName,
  finetuneConfigSchema,
  resolveFinetuneConfig,
} from "./config/finetune.js";
export { ConfigError } from "./config/parse.js";
export { DEFAULT_PRESET, PRESETS, type PresetName } from "./config/presets.js";
export { type ConfigSources, resolveTrainConfig } from "./config/resolve.js";
export { type TrainConfig, type TrainConfigInput, trainConfigSchema } from "./config/train.js";
export * from "./data/index.js";
export { type AttentionMapOptions, type AttentionMaps, attentionMaps } from "./eval/attention.js";
export { type Architecture, type BackboneSource, type OpenedBackbone, openBackbone } from "./eval/backbone.js";
export {
  clsFeatures,
  type Embed,
  type ExtractedFeatures,
  type ExtractionWatch,
  extractFeatures,
  type FeatureOptions,
  featureOptionsSchema,
  pixelFeatures,
  type TokenChoice,
} from "./eval/features.js";
export { type KnnAccuracy, type KnnOptions, knnAccuracy, knnOptionsSchema } from "./eval/knn.js";
export { type KnnEvaluationOptions, knnEvaluation, knnEvaluationOptionsSchema } from "./eval/knn-eval.js";
export { type LinearProbeOptions, type LinearProbeResult, linearProbe, linearProbeOptionsSchema } from "./eval/linear-probe.js";
export { openFinetuned, testAccuracy } from "./finetune/classify.js";
export { type FinetuneEvaluation, type FinetuneHooks, type FinetuneResult, Finetuner } from "./finetune/finetuner.js";
export { type Prediction, type PredictOptions, predict } from "./finetune/predict.js";
export { readSafetensors, writeSafetensors } from "./io/safetensors.js";
export { IMAGENET_MEAN, IMAGENET_STD, type ImageBatch } from "./model/images.js";
export { type LoadOptions, Model, type SaveOptions } from "./model/model.js";
export { ARCHITECTURES, type ModelOptions, modelOptionsSchema, type ResolvedModelOptions } from "./model/options.js";
export type { Entries } from "./model/weights.js";
export { NativeAddonError } from "./native/load.js";
export * from "./objective/index.js";
export { type Info, info, liveObjects, setThreads } from "./runtime.js";
export { matmul, type Tensor, type TypedArray, tensor } from "./tensor.js";
export { type ExportOptions, exportBackbone } from "./train/export.js";
export type { RunPlan } from "./train/plan.js";
export { cosineScheduleAt, learningRateAt, teacherMomentumAt, teacherTemperatureAt, weightDecayAt } from "./train/schedules.js";
export { type EpochEvent, type FitResult, type StepEvent, Trainer, type TrainerOptions } from "./train/trainer.js";
