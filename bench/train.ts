// Training: images/s of the native SERE step (teacher and student forwards, objective,
// backward, AdamW, EMA) on synthetic views, CPU, fp32 and bf16 autocast; process peak RSS.
import { availableParallelism } from "node:os";

import { resolveTrainConfig } from "../src/config/resolve.js";
import type { TrainConfigInput } from "../src/config/train.js";
import { native } from "../src/native/load.js";
import { setThreads, tensor } from "../src/index.js";
import { stepOptionsFrom } from "../src/train/step-options.js";

const CASES: Array<{ name: string; preset: string; overrides: TrainConfigInput; batch: number }> = [
  { name: "vit_small/16 2x224+10x96 b8", preset: "vit-small-imagenet", overrides: { device: "cpu" }, batch: 8 },
  { name: "fashion-mnist-tiny preset b32", preset: "fashion-mnist-tiny", overrides: {}, batch: 32 },
];

export function syntheticBatch(B: number, global: number, local: number, locals: number, patch: number) {
  const views = (n: number, s: number) => tensor(Float32Array.from({ length: n * 3 * s * s }, () => Math.random() * 2 - 1), [n, 3, s, s]);
  const record = (v: number) => (v < 2 ? [v * 10, v * 5, 80, 80, v] : [(v * 7) % 60, (v * 11) % 60, 30, 30, v % 2]);
  const n = global / patch;
  return {
    globalViews: views(2 * B, global),
    localViews: locals > 0 ? views(locals * B, local) : undefined,
    masks: tensor(Uint8Array.from({ length: 2 * B * n * n }, (_, i) => (i % 7 < 2 ? 1 : 0)), [2 * B, n, n]),
    globalRecords: tensor(Float32Array.from([0, 1].flatMap((v) => Array.from({ length: B }, () => record(v)).flat())), [2 * B, 5]),
    localRecords:
      locals > 0 ? tensor(Float32Array.from(Array.from({ length: locals }, (_, v) => Array.from({ length: B }, () => record(v + 2)).flat()).flat()), [locals * B, 5]) : undefined,
  };
}

export async function run(): Promise<object> {
  setThreads(availableParallelism());
  const results: Record<string, object> = {};
  for (const c of CASES) {
    for (const precision of ["float32", "bfloat16"] as const) {
      const config = resolveTrainConfig({ preset: c.preset, overrides: { ...c.overrides, precision, batchSizePerGpu: c.batch } });
      const step = new (native().SereStep)(stepOptionsFrom(config));
      const batch = syntheticBatch(c.batch, config.globalCropsSize, config.localCropsSize, config.localCropsNumber, config.patchSize);
      const schedule = { lr: 1e-4, weightDecay: 0.04, momentum: 0.996, teacherTemp: 0.04, teacherPatchTemp: 0.04, freezeLastLayer: false };
      // Warm-up: the first steps allocate (optimiser state, the allocator's pools) and run up
      // to 3x slower than the steady state.
      for (let i = 0; i < 3; i++) await step.run(batch, schedule);
      const iterations = 5;
      const started = performance.now();
      for (let i = 0; i < iterations; i++) await step.run(batch, schedule);
      const seconds = (performance.now() - started) / 1000 / iterations;
      results[`${c.name} ${precision}`] = {
        imagesPerSecond: c.batch / seconds,
        secondsPerStep: seconds,
        processPeakRssMiB: process.resourceUsage().maxRSS / 1024,
      };
      step.dispose();
      for (const t of Object.values(batch)) t?.dispose();
    }
  }
  return { threads: availableParallelism(), results };
}
