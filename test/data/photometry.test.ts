// The photometric options of each view group: the reference's values by default
// (docs/method.md#photometric-augmentation), drawn in the documented order, and each
// option changing what it says.
import { describe, expect, it } from "vitest";

import { photometrySchema, viewsSchema } from "../../src/data/config.js";
import { drawPhotometry } from "../../src/data/photometric.js";
import { groupPhotometry, planStep } from "../../src/data/plan.js";
import { Random } from "../../src/data/random.js";

const images = Array.from({ length: 600 }, () => ({ width: 40, height: 30 }));
const plan = (photometry: object, sizes = { globalSize: 32, localSize: 16 }) =>
  planStep(Random.seeded(11), images, viewsSchema.parse({ ...sizes, patchSize: 8, localCount: 2, photometry }));
const share = (views: { blurSigma: number }[], test: (v: { blurSigma: number }) => boolean) => views.filter(test).length / views.length;

describe("photometric options per view group", () => {
  it("default to the reference's: jitter 0.8 (0.4, 0.4, 0.2, 0.1), gray 0.2, blur 1 / 0.1 / 0.5 with sigma 0.1-2, solarisation 0 / 0.2 / 0", () => {
    expect(photometrySchema.parse({})).toEqual({
      blurProb: [1, 0.1, 0.5],
      blurSigma: [0.1, 2],
      blurSigmaRelative: false,
      solarizationProb: [0, 0.2, 0],
      colorJitterProb: 0.8,
      colorJitterStrength: 1,
      grayscaleProb: 0.2,
    });
  });

  it("draw in the documented order, so the defaults give the same views as before the options existed", () => {
    // By hand: jitter chance, its order and four factors, gray chance, blur chance and sigma, solarisation chance.
    const byHand = Random.seeded(5);
    const expected = [];
    for (let i = 0; i < 50; i++) {
      const jitter = byHand.chance(0.8);
      const order = jitter ? byHand.permutation(4) : [0, 1, 2, 3];
      const factors = jitter
        ? [byHand.uniform(0.6, 1.4), byHand.uniform(0.6, 1.4), byHand.uniform(0.8, 1.2), byHand.uniform(-0.1, 0.1)]
        : [1, 1, 1, 0];
      const grayscale = byHand.chance(0.2);
      const blurSigma = byHand.chance(0.1) ? byHand.uniform(0.1, 2) : 0;
      const solarize = byHand.chance(0.2);
      expected.push({
        jitter,
        order,
        brightness: factors[0],
        contrast: factors[1],
        saturation: factors[2],
        hue: factors[3],
        grayscale,
        blurSigma,
        solarize,
      });
    }
    const drawn = Random.seeded(5);
    const global2 = groupPhotometry(photometrySchema.parse({}), 1, 224);
    expect(Array.from({ length: 50 }, () => drawPhotometry(drawn, global2))).toEqual(expected);
  });

  it("blur and solarisation follow their per-group probabilities; 0 turns them off", () => {
    const reference = plan({});
    const globals = reference.global.photometry;
    const view1 = globals.slice(0, images.length);
    const view2 = globals.slice(images.length);
    expect(share(view1, (v) => v.blurSigma > 0)).toBe(1);
    expect(share(view2, (v) => v.blurSigma > 0)).toBeCloseTo(0.1, 1);
    expect(share(reference.local.photometry, (v) => v.blurSigma > 0)).toBeCloseTo(0.5, 1);
    expect(view2.filter((v) => (v as { solarize: boolean }).solarize).length / view2.length).toBeCloseTo(0.2, 1);

    const none = plan({ blurProb: [0, 0, 0], solarizationProb: [0, 0, 0] });
    for (const v of [...none.global.photometry, ...none.local.photometry]) expect([v.blurSigma, v.solarize]).toEqual([0, false]);
    // and the native colour table the renderer reads says so: blur sigma (column 10) and solarise (11) all 0
    for (const table of [none.global.colour, none.local.colour]) {
      for (let row = 0; row < table.length / 12; row++) expect([table[row * 12 + 10], table[row * 12 + 11]]).toEqual([0, 0]);
    }
  });

  it("jitter probability and strength, grayscale probability", () => {
    const off = plan({ colorJitterProb: 0, grayscaleProb: 1 });
    for (const v of off.global.photometry) expect([v.jitter, v.brightness, v.hue, v.grayscale]).toEqual([false, 1, 0, true]);
    const half = plan({ colorJitterProb: 1, colorJitterStrength: 0.5 });
    const views = half.global.photometry;
    expect(views.every((v) => v.jitter && v.brightness >= 0.8 && v.brightness <= 1.2 && Math.abs(v.hue) <= 0.05)).toBe(true);
    expect(Math.max(...views.map((v) => v.brightness))).toBeGreaterThan(1.15); // the range is used, not just bounded
  });

  it("blur sigma in pixels, or relative to a 224 px view", () => {
    const absolute = plan({ blurProb: [1, 1, 1], blurSigma: [1, 1.5] });
    expect(absolute.local.photometry.every((v) => v.blurSigma >= 1 && v.blurSigma <= 1.5)).toBe(true);
    const relative = plan({ blurProb: [1, 1, 1], blurSigma: [0.1, 2], blurSigmaRelative: true });
    // 32 px global views: sigma in [0.1, 2] x 32 / 224; 16 px local views: x 16 / 224
    expect(relative.global.photometry.every((v) => v.blurSigma >= 0.1 / 7 && v.blurSigma <= 2 / 7)).toBe(true);
    expect(relative.local.photometry.every((v) => v.blurSigma >= 0.1 / 14 && v.blurSigma <= 2 / 14)).toBe(true);
    expect(Math.max(...relative.local.photometry.map((v) => v.blurSigma))).toBeGreaterThan(0.12);
  });
});
