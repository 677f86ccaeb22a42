// The project's SERE step on one step case, in a process of its own (bench/train.ts runs it
// beside bench/eager_step.py, which takes the same JSON):
//
//   node --import tsx bench/native-step.ts --config '{"preset": "vit-small-imagenet", ...}'
//   node --import tsx bench/native-step.ts --config case.json
//
// Times warmup + steps iterations on synthetic views (the same batch every step) and prints
// one JSON line: seconds per step over the timed steps (median, min, max, all) and the median
// seconds of its forward, backward and update, the process's
// peak RSS (MiB) and on CUDA the device's peak (MiB), the losses of every step and the OpenBLAS
// kernels that ran. The case's optional `device` ("cuda", "cuda:N") moves the step there.
import { setThreads } from "../src/index.js";
import { native } from "../src/native/load.js";
import { stepOptionsFrom } from "../src/train/step-options.js";
import { type PhaseSeconds, readCaseArgument, STEP_CASE_FIELDS, type StepCase, syntheticBatch, trainConfigOf, writeStepTimes } from "./train.js";

const stepCase = readCaseArgument<StepCase>("bench/native-step.ts", STEP_CASE_FIELDS, "bench/train.ts's stepCaseOf");
const config = trainConfigOf(stepCase);
setThreads(stepCase.threads);
const step = new (native().SereStep)(stepOptionsFrom(config));
const batch = syntheticBatch(stepCase.batch, stepCase.globalSize, stepCase.localSize, stepCase.localCount, stepCase.patchSize);
// The schedule of eager_step.py; `lr` in the case overrides the learning rate (loss checks).
const lr = (stepCase as StepCase & { lr?: number }).lr ?? 1e-4;
const schedule = { lr, weightDecay: 0.04, momentum: 0.996, teacherTemp: 0.04, teacherPatchTemp: 0.04, freezeLastLayer: false };
const seconds: number[] = [];
const losses: Array<Record<string, number>> = [];
const phases: PhaseSeconds[] = [];
for (let i = 0; i < stepCase.warmup + stepCase.steps; i++) {
  const started = performance.now();
  const { total, ibot, cls, mim, spatial, channel, forwardSeconds, backwardSeconds, updateSeconds } = await step.run(batch, schedule);
  if (i >= stepCase.warmup) {
    seconds.push((performance.now() - started) / 1000);
    phases.push({ forward: forwardSeconds, backward: backwardSeconds, update: updateSeconds });
  }
  losses.push({ total, ibot, cls, mim, spatial, channel });
}
step.dispose();
for (const t of Object.values(batch)) t?.dispose();
writeStepTimes(seconds, losses, config.device, phases);
