// The native addon's surface: every function and class that build/Release/sere_torch.node
// exports, typed. Nothing else crosses into C++; callers validate their values first.
import type { ResolvedObjectiveOptions } from "../objective/options.js";

export type NativeTypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;

/** What the addon reports of itself and of the LibTorch it runs on. */
export interface NativeInfo {
  /** LibTorch version of the headers the addon was compiled against. */
  libtorchVersion: string;
  cuda: {
    available: boolean;
    deviceCount: number;
    devices: string[];
    /** e.g. "9.1.0"; null without CUDA or cuDNN. */
    cudnnVersion: string | null;
  };
  /** LibTorch intra-op threads used by native work. */
  threads: number;
  parallelBackend: string;
  /** The kernels OpenBLAS uses on this CPU ("SkylakeX", "Haswell", ...); null with another BLAS. */
  blasCore: string | null;
  /**
   * Where LibTorch's larger float32 matrix products run on the CPU: "oneDNN" (its sgemm, where
   * LibTorch ships oneDNN as a shared library; SERE_TORCH_BLAS_GEMM=1 opts out) or "BLAS".
   */
  floatGemm: "oneDNN" | "BLAS";
  build: {
    compiler: string;
    cxx11Abi: boolean;
    /** Built against a CUDA LibTorch. */
    cuda: boolean;
    /** Data parallelism (c10d) compiled in: it compiles against the LibTorch found. */
    dataParallel: boolean;
    system: "cmake-js" | "node-gyp";
    torchDir: string;
    napiVersion: number;
  };
}

/** A LibTorch tensor held by native code. */
export interface NativeTensor {
  shape(): number[];
  /** PyTorch's dtype names: "float32", "int64", ... */
  dtype(): string;
  device(): string;
  /** A copy of the data on the CPU (half precision as float32). */
  toArray(): NativeTypedArray;
  /** A copy of the data on the CPU as raw bytes in the tensor's own dtype (row-major, little-endian). */
  bytes(): Uint8Array;
  /** A reshaped copy. */
  reshape(shape: readonly number[]): NativeTensor;
  /** A view with two dimensions swapped (PyTorch's transpose): it shares this tensor's memory. */
  transpose(dim0: number, dim1: number): NativeTensor;
  /** Frees the native memory now; later use throws. */
  dispose(): void;
  isDisposed(): boolean;
  /** dispose(), for `using`. */
  [Symbol.dispose](): void;
}

/** A state dict as it crosses the boundary: [name, tensor] pairs in order. */
export type NativeEntries = Array<[string, NativeTensor]>;

/** Architecture options, resolved and validated by src/model/options.ts. */
export interface NativeModelOptions {
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  patchSize: number;
  convStem: boolean;
  imgSize: number;
  dropPathRate: number;
  maskedImModeling: boolean;
  localHeads: boolean;
  head: false | { outDim: number; patchOutDim: number; hiddenDim: number; bottleneckDim: number; normLastLayer: boolean; sharedHead: boolean };
  device: string;
  dtype: string;
  seed?: number;
}

/** What one network computes in a training step (docs/method.md#forward-passes), without gradients. */
export interface NativeTrainingOutputs {
  tokens: NativeTensor;
  cls?: NativeTensor;
  patches?: NativeTensor;
  channelZ: NativeTensor;
  channelP: NativeTensor;
  spatialZ: NativeTensor;
  spatialP: NativeTensor;
}

/** One network: ViT backbone (with SERE heads) and an optional iBOT head. */
export interface NativeModel {
  parameterCount(trainableOnly: boolean): number;
  /** Parameters and buffers under the reference's names (detached, sharing memory). */
  state(): NativeEntries;
  /** Rejects listing missing, unexpected and wrongly-shaped keys. */
  loadState(entries: NativeEntries, backboneOnly: boolean): Promise<void>;
  features(images: NativeTensor, what: "cls" | "tokens"): Promise<NativeTensor>;
  lastSelfAttention(images: NativeTensor): Promise<NativeTensor>;
  intermediateLayers(images: NativeTensor, n: number): Promise<NativeTensor[]>;
  /** DINO's evaluation features: the last n blocks' CLS tokens, concatenated, then (avgpool) the mean patch token. */
  evaluationFeatures(images: NativeTensor, nLastBlocks: number, avgpoolPatchtokens: boolean): Promise<NativeTensor>;
  /** Under autocast to `precision` unless it is float32, as the training step runs it. */
  trainingForward(images: NativeTensor, options: { mask?: NativeTensor; local: boolean; precision: string }): Promise<NativeTrainingOutputs>;
  dispose(): void;
  [Symbol.dispose](): void;
  isDisposed(): boolean;
}

/** The grids one step needs (native/objective/grids.h). */
export interface NativeSereGrids {
  /** (2B, s1, s1, 2): view-1 rows grid q, view-2 rows grid k of the first global pair. */
  globalQueryAxis: NativeTensor;
  /** (2B, s2, s2, 2): the same for the second global pair. */
  globalKeyAxis: NativeTensor;
  /** (2B, V_l, s, s, 2): row (g, b), column v: the global side of pair (local v, global g). */
  globalToLocal: NativeTensor;
  /** (V_l B, 2, s, s, 2): row (v, b), column g: the local side of pair (local v, global g). */
  localToGlobal: NativeTensor;
}

/** One step's network outputs, views stacked view-major along the batch. */
export interface NativeSereInputs {
  teacherCls: NativeTensor;
  teacherPatch: NativeTensor;
  teacherChannel: NativeTensor;
  teacherSpatial: NativeTensor;
  studentCls: NativeTensor;
  studentPatch: NativeTensor;
  studentChannel: NativeTensor;
  studentSpatial: NativeTensor;
  studentLocalChannel: NativeTensor;
  studentLocalSpatial: NativeTensor;
  masks: NativeTensor;
  grids: NativeSereGrids;
}

export type NativeStudentInput = "studentCls" | "studentPatch" | "studentChannel" | "studentSpatial" | "studentLocalChannel" | "studentLocalSpatial";

/** Every field required: src/objective/options.ts defaults and validates them (its schema is their one definition). */
export type NativeObjectiveOptions = ResolvedObjectiveOptions;

export interface NativeComputeSettings {
  teacherTemp: number;
  teacherPatchTemp: number;
  requiresGrad: boolean;
  updateCentres: boolean;
}

/** The objective's values: total = ibot (4 - alpha - beta) / 2 + alpha spatial + beta channel. */
export interface NativeLossValues {
  total: number;
  ibot: number;
  cls: number;
  mim: number;
  spatial: number;
  channel: number;
}

export interface NativeSereLosses extends NativeLossValues {
  /** Mean entropy of the teacher's CLS targets (ln K: uniform; 0: one-hot). */
  clsEntropy: number;
  /** d total / d input, when computed with requiresGrad. */
  grads?: Record<NativeStudentInput, NativeTensor>;
}

export interface NativeSereObjective {
  compute(inputs: NativeSereInputs, settings: NativeComputeSettings): Promise<NativeSereLosses>;
  updateCentres(teacherCls: NativeTensor, teacherPatch: NativeTensor): Promise<void>;
  centres(): Promise<{ centre: NativeTensor; patchCentre: NativeTensor }>;
  setCentres(centre: NativeTensor, patchCentre: NativeTensor): Promise<void>;
  dispose(): void;
  [Symbol.dispose](): void;
}

/** The SERE objective's part of the addon (native/binding/objective.cc). */
export interface NativeObjectiveAddon {
  overlapGrids(queryRecords: NativeTensor, keyRecords: NativeTensor, side: number): { query: NativeTensor; key: NativeTensor };
  sereGrids(records: NativeTensor, globalQuerySide: number, globalKeySide: number, localSide: number): NativeSereGrids;
  channelRelation(x: NativeTensor, scale: number | undefined): Promise<NativeTensor>;
  spatialRelation(x: NativeTensor, heads: number): Promise<NativeTensor>;
  sampleMap(map: NativeTensor, grid: NativeTensor): Promise<NativeTensor>;
  sampleRelation(relation: NativeTensor, queryGrid: NativeTensor, keyGrid: NativeTensor): Promise<NativeTensor>;
  SereObjective: new (options: NativeObjectiveOptions) => NativeSereObjective;
}

/** Everything the native training step needs to be built (native/train/sere_step.h). */
export interface NativeStepOptions {
  student: NativeModelOptions;
  teacher: NativeModelOptions;
  objective: NativeObjectiveOptions;
  globalQuerySide: number;
  globalKeySide: number;
  /** 0: the local views' patch grid side. */
  localSide: number;
  /** Per-parameter gradient norm limit; 0 = off. */
  clipGrad: number;
  /** Autocast dtype: "float32" (off), "bfloat16" or "float16". */
  precision: string;
  /** fp16's dynamic loss scale (skip the update on overflow); default: precision === "float16". */
  lossScaling?: boolean;
  accumIter: number;
  device: string;
  seed?: number;
  /**
   * On the CPU with two or more intra-op threads, in one process (ignored with a communicator: the
   * ranks' collectives need one order): the teacher's forward on a helper thread beside the
   * student's, and each half of the parameter updates beside the other, one intra-op thread each
   * (default false: one after the other, on all threads).
   */
  sideBySide?: boolean;
  /** Data parallelism: this rank's connected communicator (absent: one process). */
  communicator?: NativeCommunicator;
}

/** Where this rank meets the others (torchrun's RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT). */
export interface NativeCommunicatorOptions {
  rank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  /** Limit for the rendezvous and for any one collective. */
  timeoutSeconds: number;
  /** The training device: CUDA ranks use NCCL, CPU ranks Gloo. */
  device: string;
}

/** This rank's c10d connection: a TCPStore (hosted by rank 0) and process groups. */
export interface NativeCommunicator {
  /** Resolves when all ranks have joined. */
  connect(): Promise<void>;
  /** Every rank's `value` for `key`, in rank order (through the store). */
  allGather(key: string, value: string): Promise<string[]>;
  barrier(): Promise<void>;
  /** "gloo" or "nccl". */
  backend(): string;
  dispose(): void;
  [Symbol.dispose](): void;
}

/** The SERE heads' BatchNorm after one training forward and backward (native/model/sync_batch_norm.h). */
export interface NativeBatchNormResult {
  output: NativeTensor;
  gradInput: NativeTensor;
  gradWeight: NativeTensor;
  gradBias: NativeTensor;
  runningMean: NativeTensor;
  runningVar: NativeTensor;
}

/** One iteration's batch, views stacked view-major. */
export interface NativeStepBatch {
  globalViews: NativeTensor;
  localViews?: NativeTensor;
  masks: NativeTensor;
  /** (2B, 5) and (V_l B, 5) crop records (x, y, w, h, flipped), view-major. */
  globalRecords: NativeTensor;
  localRecords?: NativeTensor;
}

/** One iteration's schedule values (src/train/schedules.ts). */
export interface NativeStepSchedule {
  lr: number;
  weightDecay: number;
  momentum: number;
  teacherTemp: number;
  teacherPatchTemp: number;
  freezeLastLayer: boolean;
  /** This rank wants to stop after this step (data parallelism: every rank learns of it). */
  stop?: boolean;
  /**
   * Gradient accumulation: this iteration starts / ends a round (schedules.ts,
   * accumulationRoundAt). Unset: rounds of accumIter iterations from the step's first.
   */
  startsRound?: boolean;
  endsRound?: boolean;
}

/** Under data parallelism the losses are the means over ranks. */
export interface NativeStepResult extends NativeLossValues {
  /**
   * DINO's collapse monitor of the CLS loss, cls = clsEntropy + clsKl: the mean entropy of the
   * teacher's targets (near ln K: targets uniform; near 0: collapsed onto one dimension) and
   * the mean KL divergence of the student's predictions from them.
   */
  clsEntropy: number;
  clsKl: number;
  stepped: boolean;
  skipped: boolean;
  lossScale: number;
  /** Some rank asked to stop after this step. */
  stop: boolean;
  /**
   * Wall-clock seconds of the step's phases on the host: forward (both networks, the objective,
   * the loss report), backward, and update (AdamW, the EMA, the centres; 0 inside an accumulation
   * round). On CUDA, kernels of the backward and the update may still run after their phase ends.
   */
  forwardSeconds: number;
  backwardSeconds: number;
  updateSeconds: number;
}

/** The training state: student, teacher, objective, optimiser. */
export interface NativeSereStep {
  run(batch: NativeStepBatch, schedule: NativeStepSchedule): Promise<NativeStepResult>;
  /** Detached copies of a network's parameters and buffers. */
  state(which: "student" | "teacher"): Promise<NativeEntries>;
  centres(): Promise<{ centre: NativeTensor; patchCentre: NativeTensor }>;
  /** Writes a torch.save-compatible checkpoint of the whole training state, plus `extra`. */
  save(path: string, extra: Record<string, number | string>): Promise<void>;
  restore(state: NativeTrainingState): Promise<void>;
  /** Replaces every parameter and buffer of both networks (names and shapes as state() gives them). */
  loadNetworks(student: NativeEntries, teacher: NativeEntries): Promise<void>;
  /** Names of the trainable student parameters in AdamW's two groups: [regularised, not]. */
  parameterGroups(): [string[], string[]];
  dispose(): void;
  [Symbol.dispose](): void;
}

/** What a checkpoint restores (src/train/checkpoint.ts reads it from the file). */
export interface NativeTrainingState {
  student: NativeEntries;
  teacher: NativeEntries;
  /** "{i}.exp_avg", "{i}.exp_avg_sq", "{i}.step" per optimised parameter i. */
  optimizer: NativeEntries;
  centre: NativeTensor;
  patchCentre: NativeTensor;
  lossScale: number;
  goodSteps: number;
  iteration: number;
  cpuGenerator?: NativeTensor;
}

/** Decoded source images for renderViews: uint8 RGB, rows of width x 3 bytes, read in place. */
export interface NativeSourceImages {
  pixels: Uint8Array[];
  /** (height, width) per image. */
  sizes: Int32Array;
}

/** The views of one output size (native/augment/augment.h documents the columns). */
export interface NativeViewGroup {
  size: number;
  /** (views, 6): image, x, y, width, height, flipped. */
  boxes: Int32Array;
  /** (views, 12): jitter, brightness, contrast, saturation, hue, order x 4, grayscale, blur sigma, solarize. */
  colour: Float32Array;
}

/** Multi-crop augmentation (native/augment). */
export interface NativeAugment {
  /**
   * Renders every group's views: one float32 (views, 3, size, size) tensor per group, on
   * `device`. `threads` > 0: LibTorch threads for this call (default: setThreads' count).
   */
  renderViews(
    images: NativeSourceImages,
    groups: readonly NativeViewGroup[],
    normalisation: { mean: Float32Array; std: Float32Array },
    device: string,
    threads?: number,
  ): Promise<NativeTensor[]>;
}

/** Options of a FinetuneStep (src/finetune/finetuner.ts builds them from the configuration). */
export interface NativeFinetuneOptions {
  /** The backbone's architecture (its head options are ignored). */
  network: NativeModelOptions;
  numClasses: number;
  /** The mean patch token under fc_norm instead of the CLS token. */
  meanPooling: boolean;
  /** The head's initial weights and bias are multiplied by this. */
  initScale: number;
  layerDecay: number;
  /** The gradients' global norm limit; 0: off. */
  clipGrad: number;
  labelSmoothing: number;
  /** A moving average of the weights after every update (timm's ModelEmaV2); 0 or absent: none. */
  emaDecay?: number;
  /** The classifier sees (pixels - mean) / std, per channel. */
  normalisation: { mean: readonly number[]; std: readonly number[] };
  precision: "float32" | "bfloat16" | "float16";
  device: string;
  seed?: number;
  /** Data parallelism: gradients averaged over the ranks, the loss reported as their mean. */
  communicator?: NativeCommunicator;
}

/** Mixup (no box) or CutMix (the flipped batch pasted into [x0, x1) x [y0, y1)); lambda 1 without a box: none. */
export interface NativeMixPlan {
  lambda: number;
  box?: [number, number, number, number];
}

export interface NativeFinetuneBatch {
  /** (B, 3, S, S) pixels in [0, 1], cropped and flipped. */
  images: NativeTensor;
  /** RandAugment's per-image plan (src/data/rand-augment.ts): (B, K) op ids and magnitudes. */
  randAugment?: { ops: NativeTensor; magnitudes: NativeTensor };
  /** (B) int64 class indices. */
  labels: NativeTensor;
  /** (M, 5) int64 rows (image, x, y, width, height): random erasing's boxes. */
  eraseBoxes?: NativeTensor;
  mix: NativeMixPlan;
}

/** One AdamW group of a FinetuneStep: one layer's parameters, decayed or not. */
export interface NativeLayerGroup {
  layer: number;
  lrScale: number;
  decayed: boolean;
  names: string[];
}

export interface NativeFinetuneState {
  /** The classifier's flat state (timm's names). */
  model: NativeEntries;
  /** Its moving average's; absent: the average (if kept) starts afresh. */
  modelEma?: NativeEntries;
  /** As NativeTrainingState.optimizer. */
  optimizer: NativeEntries;
  iteration: number;
  /** float16's loss scale and its good steps (default 65536 and 0). */
  lossScale?: number;
  goodSteps?: number;
  cpuGenerator?: NativeTensor;
}

export interface NativeFinetuneStep {
  /**
   * `stepped`: false when float16's scaled gradients overflowed and the update was skipped.
   * `stop` in: this rank wants to stop after this step; out: some rank does (all stop together).
   */
  run(
    batch: NativeFinetuneBatch,
    schedule: { lr: number; weightDecay: number; stop?: boolean },
  ): Promise<{ loss: number; stepped: boolean; stop: boolean }>;
  /** (B, classes) logits in evaluation mode, of (B, 3, S, S) pixels in [0, 1]; `ema`: of the moving average. */
  logits(images: NativeTensor, ema?: boolean): Promise<NativeTensor>;
  /** A pretrained backbone under a SereNetwork's `backbone.*` names (SERE heads and masked_embed are dropped). */
  loadBackbone(entries: NativeEntries): Promise<void>;
  /** The classifier's state, or with `ema` its moving average's (flat names, copies). */
  state(ema?: boolean): Promise<NativeEntries>;
  save(path: string, extra: Record<string, number | string>): Promise<void>;
  restore(state: NativeFinetuneState): Promise<void>;
  /** Data parallelism: every rank takes rank 0's weights (after loading them). */
  joinRanks(): Promise<void>;
  parameterGroups(): NativeLayerGroup[];
  dispose(): void;
}

/**
 * `testing`: what only checks and benchmarks call, apart from the library's surface: another
 * code path for the same result, a measurement, one kernel in isolation.
 */
export interface NativeTesting {
  /** SereObjective.compute with the losses term by term, as the method writes them (slow). */
  computeTermByTerm(objective: NativeSereObjective, inputs: NativeSereInputs, settings: NativeComputeSettings): Promise<NativeSereLosses>;
  /** renderViews with the batched tensor ops that CUDA runs, even on the CPU. */
  renderViewsWithTensorOps: NativeAugment["renderViews"];
  /**
   * RandAugment's ops (native/augment/rand_augment.h) on float32 images (N, 3, H, W) in [0, 1]:
   * each image's K ops in order, from integer ops (N, K) and float magnitudes (N, K) in each
   * op's units (src/data/rand-augment.ts draws them). Resolves with new images.
   */
  randAugment(images: NativeTensor, ops: NativeTensor, magnitudes: NativeTensor): Promise<NativeTensor>;
  /** Seconds per training forward (+ backward) of `images` through `model`. */
  throughput(
    model: NativeModel,
    images: NativeTensor,
    options: { backward: boolean; precision: string; warmup: number; iterations: number },
  ): Promise<number>;
  /**
   * One training-mode BatchNorm forward and backward with fresh statistics (momentum 0.1,
   * eps 1e-5): with a communicator the statistics cover all ranks (SyncBatchNorm), without
   * one it is LibTorch's BatchNorm.
   */
  batchNorm2d(
    input: NativeTensor,
    weight: NativeTensor,
    bias: NativeTensor,
    gradOutput: NativeTensor,
    communicator?: NativeCommunicator,
  ): Promise<NativeBatchNormResult>;
  /** The intra-op threads of a task on the compute lane or a libuv worker, or of the JS thread (at once). */
  threadsByLane(lane: "compute" | "pool"): Promise<number>;
  threadsByLane(lane: "js"): number;
  /** Mixup / CutMix of a batch and its label-smoothed soft targets, as a FinetuneStep does it. */
  mixBatch(
    images: NativeTensor,
    labels: NativeTensor,
    options: NativeMixPlan & { classes: number; smoothing: number },
  ): { images: NativeTensor; targets: NativeTensor };
}

/** An open torch.save archive; the file closes when the object is collected. */
export interface NativePthArchive {
  /** The pickle program (data.pkl). */
  pickle(): Buffer;
  /**
   * The tensor at `layout` of storage `key`, which holds `elements` of `dtype` (checked against
   * the file). A tensor spanning its storage is read with no copy; a view is copied out.
   */
  tensor(key: string, dtype: string, elements: number, layout: { offset: number; shape: number[]; stride: number[] }): Promise<NativeTensor>;
}

export interface NativeAddon extends NativeObjectiveAddon, NativeAugment {
  info(): NativeInfo;
  setThreads(n: number): void;
  /** Native objects currently held by JS (tensors, models, ...). */
  liveObjects(): number;
  /** Bytes: the most that tensors held at once on this CUDA device ("cuda", "cuda:N") since the process started. */
  cudaPeakMemory(device: string): number;
  Tensor: new (data: NativeTypedArray, shape: readonly number[]) => NativeTensor;
  /** Matrix product, computed off the JS thread. */
  matmul(a: NativeTensor, b: NativeTensor): Promise<NativeTensor>;

  Model: new (options: NativeModelOptions) => NativeModel;
  savePth(path: string, entries: NativeEntries): Promise<void>;
  /** Opens a torch.save file (LibTorch's zip reader: zip64, files over 4 GiB). */
  openPth(path: string): Promise<NativePthArchive>;
  /**
   * Tensors from the row-major bytes at each `offset` of the open file `fd` (a FileHandle's,
   * open until the promise settles); `what` names the file in errors.
   */
  readTensorsAt(fd: number, what: string, requests: ReadonlyArray<{ offset: number; dtype: string; shape: number[] }>): Promise<NativeTensor[]>;
  /** Writes the pieces to `path` whole or not at all (via `path.partial`, fsync, rename). */
  writeFileAtomically(path: string, pieces: readonly Uint8Array[]): Promise<void>;

  SereStep: new (options: NativeStepOptions) => NativeSereStep;
  FinetuneStep: new (options: NativeFinetuneOptions) => NativeFinetuneStep;

  Communicator: new (options: NativeCommunicatorOptions) => NativeCommunicator;

  testing: NativeTesting;

  /** Weighted k-NN accuracy (percent) for each k; see src/eval/knn.ts. */
  knn(
    trainFeatures: NativeTensor,
    trainLabels: NativeTensor,
    testFeatures: NativeTensor,
    testLabels: NativeTensor,
    options: { ks: number[]; temperature: number; numClasses: number; chunkSize: number },
  ): Promise<Array<{ k: number; top1: number; top5: number }>>;
  /** A linear classifier per learning rate on frozen features; see src/eval/linear-probe.ts. */
  linearProbe(
    trainFeatures: NativeTensor,
    trainLabels: NativeTensor,
    testFeatures: NativeTensor,
    testLabels: NativeTensor,
    options: {
      lrs: number[];
      epochs: number;
      batchSize: number;
      momentum: number;
      weightDecay: number;
      numClasses: number;
      seed: number;
      /**
       * Int32Array(2) on a SharedArrayBuffer, kept alive until the promise settles: set
       * [0] to non-zero to stop the probe (it rejects); [1] holds the epochs done.
       */
      control?: Int32Array;
    },
  ): Promise<Array<{ lr: number; top1: number; top5: number }>>;
}
