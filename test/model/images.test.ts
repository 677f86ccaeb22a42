import { describe, expect, it } from "vitest";

import { imagesToTensor } from "../../src/model/images.js";

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
});
