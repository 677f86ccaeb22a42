// Calls on one Model from several promises at once: each sees the network as if alone.
import { describe, expect, it } from "vitest";

import { Model, tensor } from "../../src/index.js";

describe("concurrent calls on one Model", () => {
  it("features() in parallel equal features() alone (inference never runs in training mode)", async () => {
    // Heavy drop path: a forward that ran in training mode would drop half the residual branches.
    const model = Model.create({
      arch: "custom",
      embedDim: 96,
      depth: 6,
      numHeads: 3,
      patchSize: 8,
      imgSize: 64,
      head: false,
      dropPathRate: 0.9,
      seed: 2,
    });
    const images = tensor(
      Float32Array.from({ length: 8 * 3 * 64 * 64 }, (_, i) => Math.sin(i * 0.01)),
      [8, 3, 64, 64],
    );
    const alone = Array.from((await model.features(images)).toArray() as Float32Array);
    const together = await Promise.all(Array.from({ length: 8 }, () => model.features(images)));
    for (const t of together) expect(Array.from(t.toArray() as Float32Array)).toEqual(alone);
    model.dispose();
  });
});
