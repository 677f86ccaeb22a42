// The project's fine-tuning step on one case, in a process of its own (bench/finetune.ts runs it
// beside bench/eager_finetune_step.py, which takes the same JSON):
//
//   node --import tsx bench/native-finetune-step.ts --config '{"embedDim": 192, "depth": 12, ...}'
//   node --import tsx bench/native-finetune-step.ts --config case.json
//
// The FinetuneStep of src/finetune/finetuner.ts's buildStep, from random initialisation: the
// case's ViT (drop path 0), ImageNet's normalisation, label smoothing 0.1, init scale 0.001, no
// gradient clipping; every step mixes the batch with its flip at the case's lambda (mixup, no
// CutMix), without RandAugment or erasing, as the eager step does. Times warmup + steps
// iterations on synthetic pixels in [0, 1] (the same batch every step) and prints one JSON line
// as bench/native-step.ts does: seconds per step over the timed steps (median, min, max, all),
// the process's peak RSS (MiB) and on CUDA the device's peak (MiB), the loss of every step and
// the OpenBLAS kernels that ran. The case's optional `device` ("cuda", "cuda:N") moves the step
// there.
import { IMAGENET_NORMALISATION } from "../src/data/render.js";
import { setThreads, tensor } from "../src/index.js";
import { modelOptionsSchema } from "../src/model/options.js";
import { native } from "../src/native/load.js";
import { FINETUNE_CASE_FIELDS, type FinetuneCase } from "./finetune.js";
import { readCaseArgument, writeStepTimes } from "./train.js";

/** As bench/eager_finetune_step.py's SMOOTHING, INIT_SCALE and WEIGHT_DECAY (iBOT's recipe). */
const SMOOTHING = 0.1;
const INIT_SCALE = 0.001;
const WEIGHT_DECAY = 0.05;

const c = readCaseArgument<FinetuneCase>("bench/native-finetune-step.ts", FINETUNE_CASE_FIELDS, "bench/finetune.ts");
const device = c.device ?? "cpu";
setThreads(c.threads);
const network = modelOptionsSchema.parse({
  arch: "custom",
  embedDim: c.embedDim,
  depth: c.depth,
  numHeads: c.numHeads,
  patchSize: c.patchSize,
  imgSize: c.size,
  head: false,
  dropPathRate: 0,
  device,
});
const step = new (native().FinetuneStep)({
  network,
  numClasses: c.classes,
  meanPooling: c.meanPooling,
  initScale: INIT_SCALE,
  layerDecay: c.layerDecay,
  clipGrad: 0,
  labelSmoothing: SMOOTHING,
  normalisation: IMAGENET_NORMALISATION,
  precision: c.precision,
  device,
  seed: 0,
});
const images = tensor(
  Float32Array.from({ length: c.batch * 3 * c.size * c.size }, () => Math.random()),
  [c.batch, 3, c.size, c.size],
);
const labels = tensor(
  BigInt64Array.from({ length: c.batch }, () => BigInt(Math.floor(Math.random() * c.classes))),
  [c.batch],
);
const batch = { images, labels, mix: { lambda: c.mixLambda } };
// `lr` in the case overrides the learning rate, as in eager_finetune_step.py.
const schedule = { lr: (c as FinetuneCase & { lr?: number }).lr ?? 1e-3, weightDecay: WEIGHT_DECAY };
const seconds: number[] = [];
const losses: Array<Record<string, number>> = [];
for (let i = 0; i < c.warmup + c.steps; i++) {
  const started = performance.now();
  const { loss } = await step.run(batch, schedule);
  if (i >= c.warmup) seconds.push((performance.now() - started) / 1000);
  losses.push({ loss });
}
step.dispose();
images.dispose();
labels.dispose();
writeStepTimes(seconds, losses, device);
