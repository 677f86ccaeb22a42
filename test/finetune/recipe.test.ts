// The parts of the fine-tuning recipe against hand-worked values: the layer-wise lr decay of
// every parameter, mixup / CutMix pixels and targets, CutMix's box and corrected weight, the
// Beta draws, random erasing's boxes, the class-balanced label subset and top-k accuracy.
import { describe, expect, it } from "vitest";
import { Random } from "../../src/data/random.js";
import { topAccuracy } from "../../src/finetune/accuracy.js";
import { drawErasing } from "../../src/finetune/erasing.js";
import { labelledSubset } from "../../src/finetune/labels.js";
import { beta, cutmixBox, drawMix } from "../../src/finetune/mix.js";
import { modelOptionsSchema, tensor } from "../../src/index.js";
import { native } from "../../src/native/load.js";

const TINY = modelOptionsSchema.parse({ arch: "custom", embedDim: 8, depth: 2, numHeads: 2, patchSize: 4, imgSize: 8, head: false });
const finetuneStep = (meanPooling: boolean, layerDecay: number, emaDecay = 0) =>
  new (native().FinetuneStep)({
    emaDecay,
    network: TINY,
    numClasses: 3,
    meanPooling,
    initScale: 1,
    layerDecay,
    clipGrad: 0,
    labelSmoothing: 0.1,
    normalisation: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
    precision: "float32",
    device: "cpu",
  });

function expectClose(actual: number[], expected: number[], digits: number): void {
  expect(actual).toHaveLength(expected.length);
  for (const [i, v] of expected.entries()) expect(actual[i], `element ${i}`).toBeCloseTo(v, digits);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const variance = (xs: number[]) => {
  const m = mean(xs);
  return mean(xs.map((x) => (x - m) ** 2));
};

describe("layer-wise lr decay (BEiT's get_num_layer_for_vit and get_parameter_groups)", () => {
  it("gives every parameter of a 2-block classifier its layer's scale and its weight decay, by hand", () => {
    const step = finetuneStep(true, 0.5);
    const byName = new Map<string, { scale: number; decayed: boolean }>();
    for (const g of step.parameterGroups()) for (const name of g.names) byName.set(name, { scale: g.lrScale, decayed: g.decayed });
    step.dispose();
    // depth 2: layer 0 (embeddings) 0.5^3, block 0 0.5^2, block 1 0.5^1, the rest 0.5^0.
    const expected: Record<string, [number, boolean]> = {
      cls_token: [0.125, false],
      pos_embed: [0.125, false],
      "patch_embed.proj.weight": [0.125, true],
      "patch_embed.proj.bias": [0.125, false],
      "blocks.0.norm1.weight": [0.25, false],
      "blocks.0.attn.qkv.weight": [0.25, true],
      "blocks.0.attn.qkv.bias": [0.25, false],
      "blocks.0.attn.proj.weight": [0.25, true],
      "blocks.0.mlp.fc2.weight": [0.25, true],
      "blocks.1.norm2.bias": [0.5, false],
      "blocks.1.mlp.fc1.weight": [0.5, true],
      "fc_norm.weight": [1, false],
      "fc_norm.bias": [1, false],
      "head.weight": [1, true],
      "head.bias": [1, false],
    };
    for (const [name, [scale, decayed]] of Object.entries(expected)) expect(byName.get(name), name).toEqual({ scale, decayed });
    // every parameter is in exactly one group: 4 embedding tensors, 12 per block, fc_norm and head at
    // the top; the final norm, which mean pooling leaves unused, in none
    expect(byName.size).toBe(4 + 2 * 12 + 4);
    expect(byName.has("norm.weight")).toBe(false);
  });

  it("layer decay 1 leaves every lr as given", () => {
    const step = finetuneStep(false, 1);
    expect(new Set(step.parameterGroups().map((g) => g.lrScale))).toEqual(new Set([1]));
    expect(step.parameterGroups().flatMap((g) => g.names)).not.toContain("fc_norm.weight");
    expect(step.parameterGroups().flatMap((g) => g.names)).toContain("norm.weight");
    step.dispose();
  });
});

describe("RandAugment in the step", () => {
  it("runs on the pixels before the normalisation: a plan gives the loss of its ops applied beforehand", async () => {
    const pixels = tensor(
      Float32Array.from({ length: 4 * 3 * 8 * 8 }, (_, i) => ((i * 37) % 256) / 255),
      [4, 3, 8, 8],
    );
    const labels = tensor(BigInt64Array.of(0n, 1n, 2n, 1n), [4]);
    // Rotate 30 degrees, Solarize at 0.5, Posterize 3 bits, Contrast 1.5, per image two ops
    const ops = tensor(BigInt64Array.of(5n, 11n, 10n, 8n, 0n, 5n, 11n, 10n), [4, 2]);
    const magnitudes = tensor(Float32Array.of(30, 0.5, 3, 0.5, 0, -30, 0.25, 4), [4, 2]);
    const loss = async (images: typeof pixels, randAugment?: { ops: typeof ops; magnitudes: typeof magnitudes }) => {
      const step = finetuneStep(false, 0.75);
      const { loss } = await step.run({ images, labels, randAugment, mix: { lambda: 1 } }, { lr: 0, weightDecay: 0 });
      step.dispose();
      return loss;
    };
    const planned = await loss(pixels, { ops, magnitudes });
    const beforehand = await loss(await native().testing.randAugment(pixels, ops, magnitudes));
    expect(planned).toBeCloseTo(beforehand, 6);
    expect(Math.abs(planned - (await loss(pixels)))).toBeGreaterThan(1e-4);
  });
});

describe("the weights' moving average (timm's ModelEmaV2)", () => {
  it("starts as the weights after the first update, then follows decay * average + (1 - decay) * weights", async () => {
    const step = finetuneStep(false, 0.75, 0.9);
    const pixels = tensor(
      Float32Array.from({ length: 2 * 3 * 8 * 8 }, (_, i) => ((i * 53) % 256) / 255),
      [2, 3, 8, 8],
    );
    const batch = { images: pixels, labels: tensor(BigInt64Array.of(0n, 2n), [2]), mix: { lambda: 1 } };
    const weightsOf = async (ema: boolean) => new Map((await step.state(ema)).map(([n, t]) => [n, [...(t.toArray() as Float32Array)]]));
    await step.run(batch, { lr: 1e-2, weightDecay: 0.05 });
    const first = await weightsOf(false);
    expect(await weightsOf(true)).toEqual(first);
    await step.run(batch, { lr: 1e-2, weightDecay: 0.05 });
    const second = await weightsOf(false);
    const average = await weightsOf(true);
    for (const name of ["blocks.0.attn.qkv.weight", "head.weight", "pos_embed"]) {
      const byHand = first.get(name)!.map((v, i) => 0.9 * v + 0.1 * second.get(name)![i]!);
      expectClose(average.get(name)!, byHand, 6);
      expect(Math.max(...second.get(name)!.map((v, i) => Math.abs(v - first.get(name)![i]!)))).toBeGreaterThan(1e-4);
    }
    // and the average classifies: its logits differ from the weights'
    const [mine, theirs] = [await step.logits(pixels), await step.logits(pixels, true)].map((t) => [...(t.toArray() as Float32Array)]);
    expect(mine).not.toEqual(theirs);
    step.dispose();
  });

  it("is refused by name where none is kept", async () => {
    const step = finetuneStep(false, 0.75);
    await expect(step.state(true)).rejects.toThrow(/keeps no moving average of its weights/);
    step.dispose();
  });
});

describe("mixup and CutMix of a batch (timm's Mixup, batch mode)", () => {
  // Two 1-channel 2 x 2 images, labels 0 and 2 of 3 classes, smoothing 0.3: off 0.1, on 0.8.
  const images = tensor(Float32Array.of(1, 2, 3, 4, 10, 20, 30, 40), [2, 1, 2, 2]);
  const labels = tensor(BigInt64Array.of(0n, 2n), [2]);
  const mix = (plan: { lambda: number; box?: [number, number, number, number] }) => {
    const out = native().testing.mixBatch(images, labels, { classes: 3, smoothing: 0.3, ...plan });
    return { images: [...(out.images.toArray() as Float32Array)], targets: [...(out.targets.toArray() as Float32Array)] };
  };

  it("mixup: each image with the mirrored one, targets likewise", () => {
    const { images: x, targets } = mix({ lambda: 0.75 });
    // 0.75 a + 0.25 b and 0.75 b + 0.25 a
    expectClose(x, [3.25, 6.5, 9.75, 13, 7.75, 15.5, 23.25, 31], 5);
    // 0.75 [0.8, 0.1, 0.1] + 0.25 [0.1, 0.1, 0.8], and the mirror
    expectClose(targets, [0.625, 0.1, 0.275, 0.275, 0.1, 0.625], 6);
  });

  it("CutMix: the box's pixels from the mirrored image, targets by the uncovered share", () => {
    const { images: x, targets } = mix({ lambda: 0.5, box: [1, 0, 2, 2] }); // the right column
    expect(x).toEqual([1, 20, 3, 40, 10, 2, 30, 4]);
    expectClose(targets, [0.45, 0.1, 0.45, 0.45, 0.1, 0.45], 6);
  });

  it("lambda 1 without a box leaves the batch alone and smooths the labels", () => {
    const { images: x, targets } = mix({ lambda: 1 });
    expect(x).toEqual([1, 2, 3, 4, 10, 20, 30, 40]);
    expectClose(targets, [0.8, 0.1, 0.1, 0.1, 0.1, 0.8], 6);
  });

  it("refuses a box outside the images, a weight outside [0, 1] and a label outside the classes, by name", () => {
    expect(() => mix({ lambda: 0.5, box: [1, 0, 3, 2] })).toThrow(/CutMix box .* is not inside the 2x2 images/);
    expect(() => mix({ lambda: 1.5 })).toThrow(/mixing weight must be in \[0, 1\]/);
    expect(() => native().testing.mixBatch(images, tensor(BigInt64Array.of(0n, 3n), [2]), { classes: 3, smoothing: 0, lambda: 1 })).toThrow(
      /labels must be class indices in \[0, 3\)/,
    );
  });
});

describe("the mixing plans", () => {
  // A stand-in for Random whose integer draws are given.
  const fixedInts = (...ints: number[]) => ({ int: () => ints.shift()! }) as unknown as Random;

  it("CutMix's box: sides sqrt(1 - lambda) of the image's, clipped, and lambda from the clipped area", () => {
    // lambda 0.64 on 10 x 10: 6 x 6 around (x 8, y 1) -> rows 0-4, columns 5-10 after clipping: 20 pixels
    expect(cutmixBox(fixedInts(1, 8), 0.64, 10, 10)).toEqual({ lambda: 0.8, box: [5, 0, 10, 4] });
    // unclipped: 6 x 6 around (5, 5) -> 36 pixels
    expect(cutmixBox(fixedInts(5, 5), 0.64, 10, 10)).toEqual({ lambda: 1 - 36 / 100, box: [2, 2, 8, 8] });
  });

  it("Beta draws have the Beta distribution's mean and variance", () => {
    const random = Random.seeded(3);
    for (const [a, b] of [
      [0.8, 0.8],
      [1, 1],
      [2, 5],
    ] as const) {
      const draws = Array.from({ length: 20000 }, () => beta(random, a, b));
      expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...draws)).toBeLessThanOrEqual(1);
      expect(mean(draws)).toBeCloseTo(a / (a + b), 2);
      expect(variance(draws)).toBeCloseTo((a * b) / ((a + b) ** 2 * (a + b + 1)), 2);
    }
  });

  it("drawMix switches between CutMix and mixup at the switch probability, and mixes nothing when off", () => {
    const random = Random.seeded(5);
    const plans = Array.from({ length: 4000 }, () => drawMix(random, { mixup: 0.8, cutmix: 1, mixupProb: 1, mixupSwitchProb: 0.5 }, 32, 32));
    const cutmix = plans.filter((p) => p.box).length / plans.length;
    expect(cutmix).toBeGreaterThan(0.46);
    expect(cutmix).toBeLessThan(0.54);
    const only = Array.from({ length: 200 }, () => drawMix(random, { mixup: 0.8, cutmix: 0, mixupProb: 1, mixupSwitchProb: 0.5 }, 32, 32));
    expect(only.every((p) => p.box === undefined && p.lambda < 1)).toBe(true);
    expect(drawMix(random, { mixup: 0.8, cutmix: 1, mixupProb: 0, mixupSwitchProb: 0.5 }, 32, 32)).toEqual({ lambda: 1 });
    expect(drawMix(random, { mixup: 0, cutmix: 0, mixupProb: 1, mixupSwitchProb: 0.5 }, 32, 32)).toEqual({ lambda: 1 });
  });
});

describe("random erasing's boxes (timm's RandomErasing)", () => {
  it("erase the images at the probability, inside them, 2% to 1/3 of the area, aspect 0.3 to 3.3", () => {
    const random = Random.seeded(9);
    const boxes = drawErasing(random, 0.25, 4000, 32, 32);
    expect(boxes.length / 4000).toBeGreaterThan(0.22);
    expect(boxes.length / 4000).toBeLessThan(0.28);
    for (const [image, x, y, w, h] of boxes) {
      expect(image).toBeGreaterThanOrEqual(0);
      expect(x! + w!).toBeLessThanOrEqual(32);
      expect(y! + h!).toBeLessThanOrEqual(32);
      // rounding of the sides moves area and aspect a little past the drawn ranges
      expect((w! * h!) / 1024).toBeGreaterThan(0.01);
      expect((w! * h!) / 1024).toBeLessThan(0.4);
      expect(h! / w!).toBeGreaterThan(0.2);
      expect(h! / w!).toBeLessThan(5);
    }
    expect(drawErasing(Random.seeded(9), 0, 100, 32, 32)).toEqual([]);
  });
});

describe("the labelled subset (--label-fraction)", () => {
  const labels = Array.from({ length: 6000 }, (_, i) => i % 10);
  it("keeps the same share of every class, seeded", () => {
    const kept = labelledSubset(labels, 0.01, 0);
    expect(kept.length).toBe(60);
    for (let c = 0; c < 10; c++) expect(kept.filter((i) => labels[i] === c).length).toBe(6);
    expect(labelledSubset(labels, 0.01, 0)).toEqual(kept);
    expect(labelledSubset(labels, 0.01, 1)).not.toEqual(kept);
    expect(labelledSubset(labels, 1, 0)).toHaveLength(6000);
    // a class too small for its share keeps one image
    expect(labelledSubset([0, 0, 0, 1], 0.1, 0).map((i) => [0, 0, 0, 1][i])).toEqual([0, 1]);
  });
});

describe("top-k accuracy", () => {
  it("counts the label's rank among the logits, by hand", () => {
    // 3 images, 6 classes: label ranks 1st, 2nd and 6th
    const logits = tensor(Float32Array.of(9, 1, 2, 3, 4, 5, 1, 9, 8, 3, 4, 5, 0, 1, 2, 3, 4, 5), [3, 6]);
    const labels = tensor(BigInt64Array.of(0n, 2n, 0n), [3]);
    const { top1, top5 } = topAccuracy(logits, labels);
    expect(top1).toBeCloseTo(100 / 3, 6);
    expect(top5).toBeCloseTo(200 / 3, 6);
  });
});
