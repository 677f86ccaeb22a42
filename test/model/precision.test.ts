// Under autocast the iBOT heads' logits stay float32 (docs/method.md#mixed-precision): the
// losses divide them by temperatures as low as 0.02, which would magnify bfloat16's rounding.
import { afterAll, beforeAll, describe, expect, test } from "vitest";

import type { Model } from "../../src/index.js";
import type { Tensor } from "../../src/tensor.js";
import { DEVICES, onDevice } from "../devices.js";
import { loadFixtureModel, maxAbsDiff, readFixture } from "./helpers.js";

/** How many of a float32 tensor's values are not bfloat16 numbers (whose low 16 bits are zero). */
function valuesFinerThanBfloat16(t: Tensor): number {
  const values = t.toArray() as Float32Array;
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  return bits.filter((b) => (b & 0xffff) !== 0).length;
}

describe.each(DEVICES)("the training forward under bfloat16 autocast, on %s", (device) => {
  const it = test.runIf(onDevice(device));
  let model: Model;
  let images: Tensor;

  beforeAll(async () => {
    if (!onDevice(device)) return;
    images = (await readFixture()).inputs!.get("images")!;
    model = await loadFixtureModel(device);
  });
  afterAll(() => model?.dispose());

  it("runs the backbone's products in bfloat16 and the heads' last layers in float32", async () => {
    const full = await model.trainingForward(images);
    const mixed = await model.trainingForward(images, { precision: "bfloat16" });
    // Autocast is on: the tokens went through bfloat16 products.
    expect(maxAbsDiff(mixed.tokens, full.tokens)).toBeGreaterThan(1e-3);
    for (const [name, logits, reference] of [
      ["cls", mixed.cls!, full.cls!],
      ["patches", mixed.patches!, full.patches!],
    ] as const) {
      expect(logits.dtype(), name).toBe("float32");
      // Products in bfloat16 would leave every value a bfloat16 number; float32's leave few.
      expect(valuesFinerThanBfloat16(logits), name).toBeGreaterThan(0.9 * logits.toArray().length);
      const scale = Math.max(...Array.from(reference.toArray() as Float32Array, Math.abs));
      expect(maxAbsDiff(logits, reference), name).toBeLessThan(0.05 * scale);
    }
  });
});
