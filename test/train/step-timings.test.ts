// log.jsonl's time per step, split as DINO's MetricLogger does (waiting for data, then the
// step), and its memory: resident memory always, the CUDA caching allocator's peak on CUDA.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { native } from "../../src/native/load.js";
import { info } from "../../src/runtime.js";
import { type StepEvent, Trainer } from "../../src/train/trainer.js";
import { tempDir, writeIdx } from "../data/helpers.js";
import { onDevice } from "../devices.js";
import { MICRO_RUN } from "./helpers.js";

const tiny = {
  ...MICRO_RUN,
  knnEval: false,
  tensorboard: false,
} as const;

async function train(device: string): Promise<StepEvent[]> {
  const data = tempDir("timings-data");
  writeIdx(data, "train", 12);
  const dir = tempDir("timings-run");
  await new Trainer({ ...tiny, device, dataPath: data, outputDir: dir, maxSteps: 3 }, { preset: "fashion-mnist-tiny", progress: false }).fit();
  return readFileSync(join(dir, "log.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as StepEvent);
}

describe("step timings and memory in log.jsonl", () => {
  it("each step's data wait, step time and the step's phases fit in the time images/s counts; no CUDA peak on the CPU", async () => {
    const steps = await train("cpu");
    expect(steps).toHaveLength(3);
    for (const s of steps) {
      expect(s.dataSeconds).toBeGreaterThan(0);
      expect(s.stepSeconds).toBeGreaterThan(0);
      // images/s counts the whole iteration: the wait, the step and the logging. The logging
      // can take under a millisecond, so the sum may equal the iteration up to float rounding.
      const iterationSeconds = 4 / s.imagesPerSecond;
      expect(s.dataSeconds + s.stepSeconds).toBeLessThanOrEqual(iterationSeconds * (1 + 1e-12));
      // The native step's phases: each took time, and together they fit in the step (accumIter 1:
      // every iteration updates).
      for (const phase of [s.forwardSeconds, s.backwardSeconds, s.updateSeconds]) expect(phase).toBeGreaterThan(0);
      expect(s.forwardSeconds + s.backwardSeconds + s.updateSeconds).toBeLessThanOrEqual(s.stepSeconds);
      expect(s.rssMiB).toBeGreaterThan(0);
      expect(s).not.toHaveProperty("cudaPeakMiB");
    }
  });

  it("the native peak of CUDA memory asks for a CUDA device, and a CPU build says it has no CUDA", () => {
    expect(() => native().cudaPeakMemory("cpu")).toThrow(/needs a CUDA device, not "cpu"/);
    if (!info().build.cuda) expect(() => native().cudaPeakMemory("cuda")).toThrow(/no CUDA support/);
  });

  describe.runIf(onDevice("cuda"))("on cuda", () => {
    it("logs the caching allocator's peak, which never falls", async () => {
      const steps = await train("cuda");
      const peaks = steps.map((s) => s.cudaPeakMiB!);
      for (const [i, peak] of peaks.entries()) {
        expect(peak).toBeGreaterThan(0);
        if (i > 0) expect(peak).toBeGreaterThanOrEqual(peaks[i - 1]!);
      }
    });
  });
});
