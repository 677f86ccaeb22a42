// One rank of the data-parallel benchmark (bench/distributed.ts): times the SERE step of a
// preset on synthetic views; prints JSON. Without WORLD_SIZE it runs alone, with no communicator.
import { resolveTrainConfig } from "../src/config/resolve.js";
import { setThreads } from "../src/index.js";
import { native } from "../src/native/load.js";
import { connectRanks, rankEnvironment } from "../src/train/distributed.js";
import { stepOptionsFrom } from "../src/train/step-options.js";
import { syntheticBatch } from "./train.js";

const [preset, batchText, threadsText] = process.argv.slice(2) as [string, string, string];
const batchSize = Number(batchText);
setThreads(Number(threadsText));
const world = rankEnvironment();
const config = resolveTrainConfig({ preset, overrides: { device: "cpu", precision: "bfloat16", batchSizePerGpu: batchSize } });
const communicator = world ? await connectRanks(world, { device: "cpu", timeoutSeconds: 600 }) : undefined;
const step = new (native().SereStep)({ ...stepOptionsFrom(config), communicator });
const batch = syntheticBatch(batchSize, config.globalCropsSize, config.localCropsSize, config.localCropsNumber, config.patchSize);
const schedule = { lr: 1e-4, weightDecay: 0.04, momentum: 0.996, teacherTemp: 0.04, teacherPatchTemp: 0.04, freezeLastLayer: false };
// Warm-up: the first steps allocate (optimiser state, the allocator's pools) and, with
// ranks, rebuild the gradient buckets; they run up to 3x slower than the steady state.
for (let i = 0; i < 3; i++) await step.run(batch, schedule);
const iterations = 5;
const started = performance.now();
for (let i = 0; i < iterations; i++) await step.run(batch, schedule);
const secondsPerStep = (performance.now() - started) / 1000 / iterations;
// What the gradient averaging moves each step: every trainable student parameter's gradient, fp32.
const trainable = new Set(step.parameterGroups().flat());
const gradientValues = (await step.state("student"))
  .filter(([name]) => trainable.has(name))
  .reduce((n, [, t]) => n + t.shape().reduce((a, b) => a * b, 1), 0);
process.stdout.write(`${JSON.stringify({ secondsPerStep, gradientBytes: gradientValues * 4, peakRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`);
step.dispose();
communicator?.dispose();
