// What every bench side-by-side test checks of the two step processes it runs.
import { expect, onTestFinished } from "vitest";

import type { StepTimes } from "../../bench/train.js";

/** As in a bench process that has not loaded the addon: no OpenBLAS kernel choice to inherit (for this test). */
export function withoutInheritedKernelChoice(): void {
  const inherited = process.env.OPENBLAS_CORETYPE;
  delete process.env.OPENBLAS_CORETYPE;
  onTestFinished(() => {
    if (inherited !== undefined) process.env.OPENBLAS_CORETYPE = inherited;
  });
}

/** One side's JSON line: ordered timings of `steps` timed steps, a plausible peak RSS, a loss per step. */
export function expectStepTimes(times: StepTimes, run: { warmup: number; steps: number }): void {
  expect(times.secondsPerStep.all).toHaveLength(run.steps);
  expect(times.secondsPerStep.min).toBeGreaterThan(0);
  expect(times.secondsPerStep.min).toBeLessThanOrEqual(times.secondsPerStep.median);
  expect(times.secondsPerStep.median).toBeLessThanOrEqual(times.secondsPerStep.max);
  expect(times.peakRssMiB).toBeGreaterThan(50);
  expect(times.losses).toHaveLength(run.warmup + run.steps);
}
