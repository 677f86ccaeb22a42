// The fine-tuning bench (bench/finetune.ts): its two sides, bench/native-finetune-step.ts and
// bench/eager_finetune_step.py, take the same case and print the same JSON line.

import { describe, expect, it } from "vitest";

import { type FinetuneCase, runEagerFinetuneStep, runNativeFinetuneStep } from "../../bench/finetune.js";
import { hasPythonTorch } from "../requirements.js";
import { expectStepTimes, withoutInheritedKernelChoice } from "./helpers.js";

/** Both poolings' parts (fc_norm with mean pooling), small enough for a test. */
const TINY: FinetuneCase = {
  embedDim: 16,
  depth: 2,
  numHeads: 2,
  patchSize: 4,
  size: 16,
  classes: 5,
  batch: 4,
  meanPooling: true,
  layerDecay: 0.75,
  mixLambda: 0.6,
  precision: "float32",
  threads: 1,
  warmup: 1,
  steps: 2,
};

describe.runIf(hasPythonTorch())("the eager fine-tuning step beside the native one", () => {
  it("each side runs as a process and prints its timings, peak RSS and losses as one JSON line", async () => {
    const kernels: Array<string | null> = [];
    withoutInheritedKernelChoice();
    for (const side of [runNativeFinetuneStep, runEagerFinetuneStep]) {
      const times = await side(TINY);
      expectStepTimes(times, TINY);
      // The head starts scaled by 0.001: near-uniform predictions, a loss of about ln(classes).
      expect(Math.abs(times.losses[0]!.loss! - Math.log(TINY.classes))).toBeLessThan(0.01);
      kernels.push(times.blasCore);
    }
    // Both sides multiply matrices with the same OpenBLAS kernels (the project's choice).
    expect(kernels[1]).toBe(kernels[0]);
  });

  it("a case without a field is refused by both sides, naming it", async () => {
    const { mixLambda: _, ...withoutLambda } = TINY;
    for (const side of [runNativeFinetuneStep, runEagerFinetuneStep]) {
      await expect(side(withoutLambda as unknown as FinetuneCase)).rejects.toThrow(/missing fields mixLambda/);
    }
  });
});
