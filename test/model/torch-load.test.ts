// Reading torch.save files written by Python (fixtures from test/fixtures/model/generate.py).
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { isStoredTensor, type OpaqueObject, torchLoad } from "../../src/io/torch-load.js";
import { readWeightGroups } from "../../src/model/weights.js";
import { op, repeatedTensorPickle, tensorDictPickle, writeTorchFile } from "./torch-files.js";

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
    expect(teacher.get("backbone.half")!.dtype()).toBe("bfloat16"); // kept as stored
    expect(Array.from(teacher.get("backbone.cls_token")!.toArray() as Float32Array)).toEqual([0.25, 0.25, 0.25, 0.25]);
  });
});

describe("broken and hostile torch.save files", () => {
  const dir = mkdtempSync(join(tmpdir(), "sere-hostile-pth-"));
  const floats = (values: number[]) => Buffer.from(Float32Array.from(values).buffer);
  /** A valid file: a 2 x 3 tensor stored transposed (strides 1, 2) over 6 floats. */
  const validPickle = tensorDictPickle("w", { offset: 0, shape: [2, 3], stride: [1, 2] }, 6);
  const validStorage = floats([0, 1, 2, 3, 4, 5]);

  it("the hand-made file reads back (the pickle builder is right)", async () => {
    const path = writeTorchFile(join(dir, "valid.pth"), validPickle, { "0": validStorage });
    const w = new Map((await readWeightGroups(path))[0]![1]).get("w")!;
    expect(w.shape()).toEqual([2, 3]);
    expect(Array.from(w.toArray() as Float32Array)).toEqual([0, 2, 4, 1, 3, 5]);
  });

  it("a GLOBAL opcode without its newline is an error naming the file, not an endless loop", async () => {
    // 0x63 "module\nname\n": the second GLOBAL's text never ends
    const pickle = Buffer.concat([op.proto, op.global("torch", "FloatStorage"), Buffer.from("ctorch._utils")]);
    const path = writeTorchFile(join(dir, "global.pth"), pickle);
    await expect(torchLoad(path)).rejects.toThrow(/global\.pth cannot be read: the pickle data ends inside an opcode/);
  });

  it("a pickle cut at any byte is an error naming the file", async () => {
    for (let length = 0; length < validPickle.length; length++) {
      const path = writeTorchFile(join(dir, `cut-${length}.pth`), validPickle.subarray(0, length), { "0": validStorage });
      await expect(torchLoad(path), `cut to ${length} bytes`).rejects.toThrow(`cut-${length}.pth`);
    }
  });

  it("a file garbled anywhere loads or fails naming the file, never hangs", async () => {
    const valid = readFileSync(writeTorchFile(join(dir, "whole.pth"), validPickle, { "0": validStorage }));
    let seed = 1;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let failures = 0;
    for (let trial = 0; trial < 300; trial++) {
      const garbled = Buffer.from(valid);
      for (let flips = 0; flips < 3; flips++) garbled[Math.floor(random() * garbled.length)] = Math.floor(random() * 256);
      const path = join(dir, `garbled-${trial}.pth`);
      writeFileSync(path, garbled);
      const outcome = await torchLoad(path).then(
        () => undefined,
        (err: Error) => err,
      );
      if (outcome) {
        failures++;
        expect(outcome.message).toContain(`garbled-${trial}.pth`);
        // the problem in the file's terms, not a JavaScript error from reading past its end
        expect(outcome.message).not.toMatch(/out of range|outside the bounds|undefined|Cannot read properties/);
      }
    }
    expect(failures).toBeGreaterThan(0);
  });

  it("a stride-0 20000 x 20000 tensor over one float is refused before any copy", async () => {
    const pickle = tensorDictPickle("w", { offset: 0, shape: [20000, 20000], stride: [0, 0] }, 1);
    const path = writeTorchFile(join(dir, "expanded.pth"), pickle, { "0": floats([1]) });
    const started = Date.now();
    await expect(readWeightGroups(path)).rejects.toThrow(/expanded\.pth cannot be read: .*400000000 elements.*storage 0 holds 1.*contiguous\(\)/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("one stored tensor named many times is not copied over and over", async () => {
    // 16 KiB of data under 2,000 names: 32 MB if every name got its own copy
    const path = writeTorchFile(join(dir, "repeated.pth"), repeatedTensorPickle(2000, 4096), { "0": Buffer.alloc(4096 * 4) });
    await expect(readWeightGroups(path)).rejects.toThrow(
      /repeated\.pth: its tensors share stored data so much that copying them out would take over 4 times the file's size/,
    );
    const few = writeTorchFile(join(dir, "tied.pth"), repeatedTensorPickle(2, 4096), { "0": Buffer.alloc(4096 * 4) });
    expect((await readWeightGroups(few))[0]![1].map(([name]) => name)).toEqual(["k0", "k1"]); // tied weights still load
  });

  it("a tensor reaching past the end of its storage is refused", async () => {
    const pickle = tensorDictPickle("w", { offset: 2, shape: [4, 4], stride: [4, 1] }, 16);
    const path = writeTorchFile(join(dir, "short.pth"), pickle, { "0": floats(Array.from({ length: 16 }, (_, i) => i)) });
    await expect(torchLoad(path)).rejects.toThrow(/short\.pth cannot be read: .*needs elements 2 to 17 of storage 0, which holds 16/);
  });
});
