// One rank of the data-parallel step check: `steps` iterations on its share of each seeded
// batch of `images` images; prints the losses, weights and centres as JSON.
//   step.ts IMAGES STEPS [convStem] [cuda]   (cuda: on the GPU of LOCAL_RANK, over NCCL)
import { setThreads } from "../../../src/index.js";
import { native } from "../../../src/native/load.js";
import { connectRanks, rankDevice, rankEnvironment } from "../../../src/train/distributed.js";
import { tinyBatch, tinySchedule, tinyStepOptions, withConvStem } from "../helpers.js";

const [images, steps] = process.argv.slice(2, 4).map(Number) as [number, number];
const convStem = process.argv.includes("convStem");
const world = rankEnvironment()!;
const device = rankDevice(process.argv.includes("cuda") ? "cuda" : "cpu", world);
const communicator = await connectRanks(world, { device, timeoutSeconds: 30 });
// Two threads with sideBySide asked for: ranks keep their collectives in one order, so the step runs its parts in turn.
setThreads(2);
const options = convStem ? withConvStem(tinyStepOptions()) : tinyStepOptions();
const step = new (native().SereStep)({ ...options, device, communicator, sideBySide: true });
const losses = [];
for (let i = 0; i < steps; i++) losses.push((await step.run(tinyBatch(images, i, world.rank, world.worldSize), tinySchedule)).total);
const entries = async (which: "student" | "teacher") =>
  Object.fromEntries((await step.state(which)).map(([name, t]) => [name, Array.from(t.toArray() as ArrayLike<number>, Number)]));
const { centre, patchCentre } = await step.centres();
process.stdout.write(
  `${JSON.stringify({ losses, student: await entries("student"), teacher: await entries("teacher"), centre: Array.from(centre.toArray() as Float32Array), patchCentre: Array.from(patchCentre.toArray() as Float32Array) })}\n`,
);
step.dispose();
communicator.dispose();
