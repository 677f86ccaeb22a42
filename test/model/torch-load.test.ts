// Reading torch.save files written by Python (fixtures from test/fixtures/model/generate.py).
import { describe, expect, it } from "vitest";

import { isStoredTensor, type OpaqueObject, torchLoad } from "../../src/io/torch-load.js";
import { readWeightGroups } from "../../src/model/weights.js";

const CHECKPOINT = new URL("../fixtures/model/reference_checkpoint.pth", import.meta.url).pathname;

describe("torch.save files", () => {
  it("reads a reference-style training checkpoint, Namespace and one-item dicts included", async () => {
    const root = (await torchLoad(CHECKPOINT)) as Map<string, unknown>;
    expect([...root.keys()]).toEqual(["student", "teacher", "optimizer", "ibot_loss", "epoch", "args"]);
    expect(root.get("epoch")).toBe(3);
    const args = root.get("args") as OpaqueObject;
    expect(args.className).toBe("argparse.Namespace");
    expect((args.state as Map<string, unknown>).get("arch")).toBe("vit_small");
    const optimizer = root.get("optimizer") as Map<string, unknown>;
    const state = (optimizer.get("state") as Map<number, Map<string, unknown>>).get(0)!;
    expect(isStoredTensor(state.get("step"))).toBe(true);
    expect((optimizer.get("param_groups") as Array<Map<string, unknown>>)[0]!.get("lr")).toBe(0.1);
  });

  it("gives the tensors of each state dict with their values, strides and half precision resolved", async () => {
    const groups = new Map(await readWeightGroups(CHECKPOINT));
    expect([...groups.keys()]).toEqual(["student", "teacher", "ibot_loss"]);
    const student = new Map(groups.get("student")!);
    const teacher = new Map(groups.get("teacher")!);
    // square.t() of arange(12).reshape(3, 4), stored with strides (1, 4): read row-major
    const transposed = [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11];
    expect(student.get("module.backbone.transposed")!.shape()).toEqual([4, 3]);
    expect(Array.from(student.get("module.backbone.transposed")!.toArray() as Float32Array)).toEqual(transposed);
    expect(Array.from(teacher.get("backbone.transposed")!.toArray() as Float32Array)).toEqual(transposed);
    expect(Array.from(student.get("module.backbone.half")!.toArray() as Float32Array)).toEqual([1.5, -2.25]);
    expect(Array.from(teacher.get("backbone.half")!.toArray() as Float32Array)).toEqual([1.5, -2.25]);
    expect(Array.from(teacher.get("backbone.cls_token")!.toArray() as Float32Array)).toEqual([0.25, 0.25, 0.25, 0.25]);
  });
});
