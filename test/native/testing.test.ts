// What only checks and benchmarks call lives under the addon's `testing` namespace, apart
// from the surface the library uses.
import { describe, expect, it } from "vitest";

import { Model, tensor } from "../../src/index.js";
import { modelOptionsSchema } from "../../src/model/options.js";
import { native } from "../../src/native/load.js";

const TINY = { arch: "custom", embedDim: 8, depth: 1, numHeads: 2, patchSize: 4, imgSize: 8, head: false } as const;

describe("the addon's testing namespace", () => {
  it("holds the test-only entries, and the library's surface does not", () => {
    const addon = native();
    for (const name of ["computeTermByTerm", "renderViewsWithTensorOps", "randAugment", "throughput", "batchNorm2d"] as const) {
      expect(typeof addon.testing[name], name).toBe("function");
    }
    expect("batchNorm2d" in addon).toBe(false);
    const model = new addon.Model(modelOptionsSchema.parse(TINY));
    expect("throughput" in model).toBe(false);
    model.dispose();
  });

  it("measures a model's throughput through it", async () => {
    const model = Model.create(TINY);
    const images = tensor(new Float32Array(2 * 3 * 8 * 8), [2, 3, 8, 8]);
    const imagesPerSecond = await model.measureThroughput(images, { warmup: 0, iterations: 1 });
    expect(imagesPerSecond).toBeGreaterThan(0);
    images.dispose();
    model.dispose();
  });

  it("says which argument is wrong when it is not the object it wants", async () => {
    const { testing } = native();
    const images = tensor(new Float32Array(3 * 8 * 8), [1, 3, 8, 8]);
    const options = { backward: false, precision: "float32", warmup: 0, iterations: 1 };
    expect(() => testing.throughput({} as never, images, options)).toThrow("throughput(model, ...): model must be a Model");
    expect(() => testing.computeTermByTerm(images as never, {} as never, {} as never)).toThrow(
      "computeTermByTerm(objective, ...): objective must be a SereObjective",
    );
    images.dispose();
  });
});
