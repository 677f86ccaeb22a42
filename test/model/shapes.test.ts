// The shapes of docs/method.md#facts-to-test-against for ViT-S/16 (B = 4, V_l = 4) and its facts about names.
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Model, tensor } from "../../src/index.js";

const views = (count: number, size: number) => tensor(new Float32Array(count * 3 * size * size).fill(0.1), [count, 3, size, size]);

describe("ViT-S/16 shapes (the method's facts to test against)", () => {
  let teacher: Model;
  beforeAll(() => {
    teacher = Model.create({ arch: "vit_small", seed: 1 });
  });
  afterAll(() => teacher.dispose());

  it("global views: CLS, patches, channel and raw spatial relations", async () => {
    const out = await teacher.trainingForward(views(8, 224));
    expect(out.cls!.shape()).toEqual([8, 8192]);
    expect(out.patches!.shape()).toEqual([8, 196, 8192]);
    expect(out.channelZ.shape()).toEqual([8, 384, 384]);
    expect(out.spatialZ.shape()).toEqual([8, 6, 196, 196]);
    expect(out.tokens.shape()).toEqual([8, 197, 384]);
  });

  it("local views use the local heads and skip the patch outputs", async () => {
    const out = await teacher.trainingForward(views(16, 96), { local: true });
    expect(out.channelP.shape()).toEqual([16, 384, 384]);
    expect(out.spatialP.shape()).toEqual([16, 6, 36, 36]);
    expect(out.cls!.shape()).toEqual([16, 8192]);
    expect(out.patches).toBeUndefined();
  });

  it("features and attention at 224 and 96 px", async () => {
    expect((await teacher.features(views(2, 96))).shape()).toEqual([2, 384]);
    expect((await teacher.features(views(2, 96), { tokens: true })).shape()).toEqual([2, 37, 384]);
    expect((await teacher.lastSelfAttention(views(2, 224))).shape()).toEqual([2, 6, 197, 197]);
    const layers = await teacher.intermediateLayers(views(2, 96), 4);
    expect(layers.map((l) => l.shape())).toEqual(Array(4).fill([2, 37, 384]));
  });

  it("with shared heads the only student-only parameter is masked_embed", () => {
    const student = Model.create({ arch: "vit_small", maskedImModeling: true, dropPathRate: 0.1 });
    const names = (m: Model) => new Set(m.stateShapes().map((s) => s.name));
    const studentOnly = [...names(student)].filter((n) => !names(teacher).has(n));
    expect(studentOnly).toEqual(["backbone.masked_embed"]);
    student.dispose();
  });

  it("uses the reference's parameter names and counts", () => {
    const shapes = new Map(teacher.stateShapes().map((s) => [s.name, s.shape]));
    expect(shapes.get("backbone.cls_token")).toEqual([1, 1, 384]);
    expect(shapes.get("backbone.pos_embed")).toEqual([1, 197, 384]);
    expect(shapes.get("backbone.blocks.0.attn.qkv.weight")).toEqual([1152, 384]);
    expect(shapes.get("backbone.blocks.11.mlp.fc2.weight")).toEqual([384, 1536]);
    expect(shapes.get("backbone.channel_sere.predictor.0.weight")).toEqual([384, 384, 1, 1]);
    expect(shapes.get("backbone.pixel_sere_local.projection.0.running_var")).toEqual([384]);
    expect(shapes.get("head.mlp.0.weight")).toEqual([2048, 384]);
    expect(shapes.get("head.mlp.4.weight")).toEqual([256, 2048]);
    expect(shapes.get("head.last_layer.weight_g")).toEqual([8192, 1]);
    expect(shapes.get("head.last_layer2.weight_v")).toEqual([8192, 256]);
    // ViT-S/16 backbone: 21.7M parameters (DINO's figure: 21M); worked out by hand:
    const D = 384,
      L = 12,
      N = 196;
    const block = 2 * 2 * D + (3 * D * D + 3 * D) + (D * D + D) + (4 * D * D + 4 * D) + (4 * D * D + D);
    const vit = D + (N + 1) * D + (3 * 16 * 16 * D + D) + L * block + 2 * D;
    const sereHeads = 4 * (2 * D + D * D + 2 * D); // BN(D) + conv 1x1 + BN(D), four heads
    const head = 384 * 2048 + 2048 + 2048 * 2048 + 2048 + 2048 * 256 + 256 + (8192 + 8192 * 256);
    expect(teacher.parameterCount()).toBe(vit + sereHeads + head);
    // norm_last_layer freezes weight_g
    expect(teacher.parameterCount({ trainableOnly: true })).toBe(vit + sereHeads + head - 8192);
  });
});
