// docs/method.md#facts-to-test-against: the loss parts of a ViT-S step at random initialisation.
import { describe, expect, it } from "vitest";

import { resolveTrainConfig } from "../../src/config/resolve.js";
import { tensor } from "../../src/index.js";
import { native } from "../../src/native/load.js";
import { stepOptionsFrom } from "../../src/train/step-options.js";

describe("ViT-S/16 at random initialisation (the method's facts to test against)", () => {
  it("CLS ~ 8.7, MIM ~ 8.6, spatial ~ 4.0, channel ~ 5.96 (about log 384)", async () => {
    const B = 2;
    const locals = 2;
    const config = resolveTrainConfig({
      preset: "vit-small-imagenet",
      overrides: { device: "cpu", precision: "float32", localCropsNumber: locals, seed: 0 },
    });
    const step = new (native().SereStep)(stepOptionsFrom(config));
    let seed = 1;
    const noise = () => {
      seed = (Math.imul(seed, 48271) + 11) >>> 0;
      return (seed / 2 ** 32) * 2 - 1;
    };
    const views = (n: number, s: number) => tensor(Float32Array.from({ length: n * 3 * s * s }, noise), [n, 3, s, s]);
    const rows = (records: number[][]) => tensor(Float32Array.from(records.flat()), [records.length, 5]);
    // view-major rows; every image: two overlapping global crops and two local crops inside them
    const globals = [...Array(B).fill([0, 0, 200, 200, 0]), ...Array(B).fill([40, 30, 180, 190, 1])];
    const localRows = [...Array(B).fill([50, 50, 60, 60, 0]), ...Array(B).fill([100, 120, 50, 40, 1])];
    // 30% of the patches of every global view masked: an image without masks adds 0 to the
    // MIM batch mean, so the per-patch value is only seen when all images have masks
    const masks = tensor(
      Uint8Array.from({ length: 2 * B * 196 }, (_, i) => (i % 10 < 3 ? 1 : 0)),
      [2 * B, 14, 14],
    );
    const result = await step.run(
      { globalViews: views(2 * B, 224), localViews: views(locals * B, 96), masks, globalRecords: rows(globals), localRecords: rows(localRows) },
      { lr: 0, weightDecay: 0.04, momentum: 0.996, teacherTemp: 0.04, teacherPatchTemp: 0.04, freezeLastLayer: true },
    );
    expect(result.cls).toBeGreaterThan(8.2);
    expect(result.cls).toBeLessThan(9.1);
    expect(result.mim).toBeGreaterThan(8.1);
    expect(result.mim).toBeLessThan(9.1);
    expect(result.spatial).toBeGreaterThan(3.5);
    expect(result.spatial).toBeLessThan(4.5);
    expect(result.channel).toBeCloseTo(Math.log(384), 1);
    step.dispose();
  });
});
