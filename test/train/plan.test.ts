// The line a run prints before its first step, and how far a stopped run got.
import { describe, expect, it } from "vitest";

import { resolveTrainConfig } from "../../src/config/resolve.js";
import { countOf, describePace, describePlan, describeProgress, runPlan } from "../../src/train/plan.js";

const DEFAULT_RUN = { images: 60_000, stepsPerEpoch: 937, worldSize: 1, device: "cpu", threads: 2, startStep: 0 };

describe("the run's plan", () => {
  it("names float32 and why when precision auto finds no native bfloat16 on the CPU", () => {
    const c = resolveTrainConfig({});
    const plan = runPlan(c, DEFAULT_RUN, false);
    expect(plan.precision).toBe("float32");
    expect(plan.lastStep).toBe(12 * 937);
    expect(describePlan(plan)).toBe(
      "training on 60,000 images of /usr/share/datasets/fashion-mnist in batches of 64: to step 11,244 (12.0 passes) or for 9 minutes, whichever ends first; cpu, 2 threads, float32\n" +
        "  this CPU has no native bfloat16 (AVX-512 BF16 or AMX): the step runs in float32, slower than bfloat16 on CPUs that have it",
    );
  });

  it("takes bfloat16 without a note where the CPU has it, and says nothing of a precision the user chose", () => {
    const c = resolveTrainConfig({});
    expect(runPlan(c, DEFAULT_RUN, true)).toMatchObject({ precision: "bfloat16" });
    expect(runPlan(c, DEFAULT_RUN, true).precisionNote).toBeUndefined();
    const chosen = runPlan(resolveTrainConfig({ overrides: { precision: "float32" } }), DEFAULT_RUN, false);
    expect(chosen.precision).toBe("float32");
    expect(chosen.precisionNote).toBeUndefined();
  });

  it("ends at --max-steps when it comes first, counts a resumed run's steps and all ranks' images, and drops an absent limit", () => {
    const c = resolveTrainConfig({ overrides: { maxSteps: 500, maxMinutes: 0, batchSizePerGpu: 32, threads: 1 } });
    const plan = runPlan(c, { ...DEFAULT_RUN, stepsPerEpoch: 937, worldSize: 2, threads: 1, startStep: 100 }, true);
    expect(describePlan(plan)).toBe(
      "training on 60,000 images of /usr/share/datasets/fashion-mnist in batches of 64 over 2 ranks: from step 100 to step 500 (0.5 passes); cpu, 1 thread, bfloat16",
    );
    const cuda = runPlan(c, { ...DEFAULT_RUN, device: "cuda:0" }, false);
    expect(cuda.precisionNote).toBeUndefined();
    expect(describePlan(cuda)).toMatch(/; cuda:0, bfloat16$/);
  });

  it("counts with the noun's plural for all but one", () => {
    expect([countOf(1, "step"), countOf(0, "step"), countOf(11244, "step")]).toEqual(["1 step", "0 steps", "11,244 steps"]);
  });

  it("says how far a run got in passes", () => {
    expect(describeProgress(1874, { stepsPerEpoch: 937, epochs: 12 })).toBe("2.0 of 12 passes");
    expect(describeProgress(2, { stepsPerEpoch: 15_000, epochs: 12 })).toBe("0.00013 of 12 passes");
  });

  it("says early where the time limit will end a run that cannot reach its last step, and nothing otherwise", () => {
    const plan = runPlan(resolveTrainConfig({}), DEFAULT_RUN, false);
    // 540 s - 20.5 s left at 0.27 s a step: 1,924 steps more, so near step 2,000 (2.13 passes);
    // 11,169 steps to go at 0.27 s and the 20.5 s done: 50.6 minutes.
    expect(describePace(plan, { iteration: 75, trainingSeconds: 20.5, secondsPerStep: 0.27 })).toBe(
      "at 0.27 s a step the 9-minute limit will end this run near step 2,000 (2.1 of 12 passes); reaching step 11,244 would take about 51 minutes (--max-minutes 0)",
    );
    // 519.5 s at 0.045 s a step: 11,544 steps more, past the last.
    expect(describePace(plan, { iteration: 75, trainingSeconds: 20.5, secondsPerStep: 0.045 })).toBeUndefined();
    const unlimited = runPlan(resolveTrainConfig({ overrides: { maxMinutes: 0 } }), DEFAULT_RUN, false);
    expect(describePace(unlimited, { iteration: 75, trainingSeconds: 20.5, secondsPerStep: 0.27 })).toBeUndefined();
  });
});
