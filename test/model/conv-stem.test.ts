// The convolutional stem (convStem) against torchvision's VisionTransformer with conv_stem_configs
// (fixture from test/fixtures/model/generate_conv_stem.py).
import { afterAll, beforeAll, describe, expect, test } from "vitest";

import { Model, modelOptionsSchema } from "../../src/index.js";
import type { Tensor } from "../../src/tensor.js";
import { DEVICES, onDevice } from "../devices.js";
import { maxAbsDiff, maxScaledDiff, readFixture } from "./helpers.js";

const FIXTURE = new URL("../fixtures/model/conv_stem_reference.pth", import.meta.url).pathname;
// Absolute on the CPU; on CUDA relative to the largest expected value (maxScaledDiff): cuDNN's
// TF32 convolutions round to about 5e-4 of a value's magnitude.
const TOLERANCE = { cpu: 1e-5, cuda: 1e-3 };
const ARCHITECTURE = { arch: "custom", embedDim: 48, depth: 2, numHeads: 3, patchSize: 8, imgSize: 32, convStem: true } as const;

describe.each(DEVICES)("convolutional stem against torchvision's, on %s", (device) => {
  const tolerance = TOLERANCE[device];
  const diff = device === "cuda" ? maxScaledDiff : maxAbsDiff;
  const it = test.runIf(onDevice(device));
  let model: Model;
  let inputs: Map<string, Tensor>;
  let expected: Map<string, Tensor>;

  beforeAll(async () => {
    if (!onDevice(device)) return;
    ({ inputs, expected } = (await readFixture(FIXTURE)) as { inputs: Map<string, Tensor>; expected: Map<string, Tensor> });
    model = Model.create({ ...ARCHITECTURE, localHeads: false, head: false, device });
    await model.load(FIXTURE, { checkpointKey: "weights" });
  });
  afterAll(() => model?.dispose());

  it("names its stages convs.i / norms.i and ends in the 1x1 projection", () => {
    const shapes = new Map(model.state().map(([name, t]) => [name, t.shape()]));
    expect(shapes.get("backbone.patch_embed.convs.0.weight")).toEqual([12, 3, 3, 3]);
    expect(shapes.get("backbone.patch_embed.convs.2.weight")).toEqual([48, 24, 3, 3]);
    expect(shapes.get("backbone.patch_embed.norms.2.running_var")).toEqual([48]);
    expect(shapes.get("backbone.patch_embed.proj.weight")).toEqual([48, 48, 1, 1]);
    expect(shapes.has("backbone.patch_embed.convs.3.weight")).toBe(false);
    expect(shapes.has("backbone.patch_embed.convs.0.bias")).toBe(false);
  });

  it(`gives torchvision's tokens in evaluation, BatchNorm from running statistics (fp32, ${tolerance.toExponential()})`, async () => {
    const tokens = await model.features(inputs.get("images")!, { tokens: true });
    expect(tokens.shape()).toEqual([4, 17, 48]);
    expect(diff(tokens, expected.get("tokens_eval")!)).toBeLessThan(tolerance);
  });

  it("gives torchvision's tokens in training, BatchNorm from the batch, and updates the running statistics alike", async () => {
    const out = await model.trainingForward(inputs.get("images")!);
    expect(diff(out.tokens, expected.get("tokens_train")!)).toBeLessThan(tolerance);
    expect(maxAbsDiff(out.tokens, expected.get("tokens_eval")!)).toBeGreaterThan(1e-2);
    const runningMean = new Map(model.state()).get("backbone.patch_embed.norms.0.running_mean")!;
    expect(diff(runningMean, expected.get("stage0_running_mean_after_train")!)).toBeLessThan(tolerance);
  });
});

describe("convStem options", () => {
  test("need a power-of-two patch size and a width the stages can halve", () => {
    const errors = (options: object) =>
      modelOptionsSchema.safeParse({ ...ARCHITECTURE, ...options }).error?.issues.map((i) => `${i.path}: ${i.message}`);
    expect(errors({ patchSize: 6, imgSize: 36 })).toEqual(["patchSize: must be a power of two (2, 4, 8, 16, ...) with convStem, got 6"]);
    expect(errors({ patchSize: 16, embedDim: 36, numHeads: 3 })).toEqual(["embedDim: must be a multiple of patchSize / 2 (8) with convStem, got 36"]);
    expect(errors({ patchSize: 6, imgSize: 36, convStem: false })).toBeUndefined();
  });
});
