// Our backbone and heads against torchvision's VisionTransformer and PyTorch's functions
// (fixture from test/fixtures/model/generate.py).
import { afterAll, beforeAll, describe, expect, test } from "vitest";

import type { Model } from "../../src/index.js";
import type { Tensor } from "../../src/tensor.js";
import { DEVICES, onDevice } from "../devices.js";
import { loadFixtureModel, maxAbsDiff, maxScaledDiff, readFixture } from "./helpers.js";

// Absolute on the CPU; on CUDA relative to the largest expected value (maxScaledDiff): cuDNN's
// TF32 convolutions round to about 5e-4 of a value's magnitude.
const TOLERANCE = { cpu: 1e-5, cuda: 1e-3 };

describe.each(DEVICES)("parity with torchvision's VisionTransformer, on %s", (device) => {
  const tolerance = TOLERANCE[device];
  const diff = device === "cuda" ? maxScaledDiff : maxAbsDiff;
  const it = test.runIf(onDevice(device));
  let model: Model;
  let inputs: Map<string, Tensor>;
  let expected: Map<string, Tensor>;
  const want = (name: string) => expected.get(name)!;

  beforeAll(async () => {
    if (!onDevice(device)) return;
    const fixture = await readFixture();
    inputs = fixture.inputs!;
    expected = fixture.expected!;
    model = await loadFixtureModel(device);
  });
  afterAll(() => model?.dispose());

  it(`gives the same CLS features and final tokens (fp32, ${tolerance.toExponential()})`, async () => {
    const cls = await model.features(inputs.get("images")!);
    expect(cls.shape()).toEqual([2, 48]);
    expect(diff(cls, want("cls"))).toBeLessThan(tolerance);
    const tokens = await model.features(inputs.get("images")!, { tokens: true });
    expect(tokens.shape()).toEqual([2, 17, 48]);
    expect(diff(tokens, want("tokens"))).toBeLessThan(tolerance);
  });

  it("interpolates the position embedding for another input size by the method's bicubic rule", async () => {
    const tokens = await model.features(inputs.get("images_48px")!, { tokens: true });
    expect(tokens.shape()).toEqual([2, 37, 48]);
    expect(diff(tokens, want("tokens_48px"))).toBeLessThan(tolerance);
  });

  it("gives the last block's self-attention of MultiheadAttention", async () => {
    const attention = await model.lastSelfAttention(inputs.get("images")!);
    expect(attention.shape()).toEqual([2, 3, 17, 17]);
    expect(diff(attention, want("last_self_attention"))).toBeLessThan(tolerance);
  });

  it("replaces masked patch embeddings by masked_embed", async () => {
    const out = await model.trainingForward(inputs.get("images")!, { mask: inputs.get("mask")! });
    expect(diff(out.tokens, want("tokens_masked"))).toBeLessThan(tolerance);
  });

  it("computes the SERE relations of z and p and the iBOT head outputs", async () => {
    const out = await model.trainingForward(inputs.get("images")!);
    expect(out.channelZ.shape()).toEqual([2, 48, 48]);
    expect(out.spatialZ.shape()).toEqual([2, 3, 16, 16]);
    expect(diff(out.channelZ, want("channel_z"))).toBeLessThan(tolerance);
    expect(diff(out.channelP, want("channel_p"))).toBeLessThan(tolerance);
    expect(diff(out.spatialZ, want("spatial_z"))).toBeLessThan(tolerance);
    expect(diff(out.spatialP, want("spatial_p"))).toBeLessThan(tolerance);
    expect(diff(out.cls!, want("head_cls"))).toBeLessThan(tolerance);
    expect(diff(out.patches!, want("head_patches"))).toBeLessThan(tolerance);
  });
});
