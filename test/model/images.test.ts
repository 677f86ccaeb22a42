import { describe, expect, it } from "vitest";

import { imagesToTensor } from "../../src/model/images.js";
import { Model } from "../../src/model/model.js";
import { tensor } from "../../src/tensor.js";

describe("image batches", () => {
  it("normalises uint8 HWC pixels into (B, 3, H, W) with mean and std", () => {
    // one 1x2 image: pixels (255, 0, 51) and (0, 255, 102)
    const t = imagesToTensor({
      pixels: new Uint8Array([255, 0, 51, 0, 255, 102]),
      shape: [1, 1, 2, 3],
      mean: [0.5, 0.5, 0.2],
      std: [0.5, 0.25, 0.1],
    });
    expect(t.shape()).toEqual([1, 3, 1, 2]);
    const v = Array.from(t.toArray() as Float32Array);
    // R: (1 - 0.5) / 0.5 = 1, (0 - 0.5) / 0.5 = -1; G: -2, 2; B: (0.2 - 0.2) / 0.1 = 0, (0.4 - 0.2) / 0.1 = 2
    const expected = [1, -1, -2, 2, 0, 2];
    v.forEach((x, i) => {
      expect(x).toBeCloseTo(expected[i]!, 5);
    });
    t.dispose();
  });

  it("rejects batches whose shape does not fit", () => {
    expect(() => imagesToTensor({ pixels: new Uint8Array(5), shape: [1, 1, 2, 3] })).toThrow("5 values do not fill shape [1, 1, 2, 3]");
    expect(() => imagesToTensor({ data: new Float32Array(4), shape: [1, 1, 2, 2] })).toThrow("shape must be [B, 3, H, W]");
  });

  it("rejects a mean or std that would give NaN features", () => {
    const pixels = new Uint8Array(6);
    expect(() => imagesToTensor({ pixels, shape: [1, 1, 2, 3], mean: [0.5] as never, std: [0] as never })).toThrow(
      "pixels: mean and std must be 3 numbers each, std positive; got mean [0.5], std [0]",
    );
    expect(() => imagesToTensor({ pixels, shape: [1, 1, 2, 3], std: [0.2, 0, 0.2] })).toThrow(/std positive/);
  });

  it("refuses an integer tensor, which would be read as normalised values", async () => {
    const model = Model.create({ arch: "custom", embedDim: 8, depth: 1, numHeads: 2, patchSize: 8, imgSize: 16, head: false });
    const pixels = tensor(new Uint8Array(3 * 16 * 16), [1, 3, 16, 16]);
    await expect(model.features(pixels)).rejects.toThrow(
      "images: a uint8 tensor would be taken as normalised values; give uint8 pixels as { pixels, shape } (normalised here) or a float tensor",
    );
    pixels.dispose();
    model.dispose();
  });

  it("a float16 model on the CPU says why it runs no forward there (it is made, loaded and saved)", async () => {
    const model = Model.create({ arch: "custom", embedDim: 8, depth: 1, numHeads: 2, patchSize: 8, imgSize: 16, head: false, dtype: "float16" });
    await expect(model.features({ pixels: new Uint8Array(16 * 16 * 3), shape: [1, 16, 16, 3] })).rejects.toThrow(
      'a float16 model runs on CUDA only (it can be made, loaded and saved on the CPU): make it with dtype "bfloat16" or "float32" to run it here',
    );
    model.dispose();
  });
});
