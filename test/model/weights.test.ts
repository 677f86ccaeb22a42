import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { liveObjects, Model, tensor } from "../../src/index.js";
import { readWeightGroups } from "../../src/model/weights.js";
import { native } from "../../src/native/load.js";
import type { Tensor } from "../../src/tensor.js";
import { hasPythonTorch, pythonWithTorch } from "../requirements.js";
import { maxAbsDiff } from "./helpers.js";

const tiny = { arch: "custom", embedDim: 24, depth: 2, numHeads: 2, patchSize: 4, imgSize: 16 } as const;
const head = { outDim: 32, hiddenDim: 16, bottleneckDim: 8 };
const images = tensor(
  Float32Array.from({ length: 2 * 3 * 16 * 16 }, (_, i) => Math.sin(i)),
  [2, 3, 16, 16],
);
const dir = mkdtempSync(join(tmpdir(), "sere-weights-"));

/** Python with torch, when this machine has it (Debian's python3-torch). */
const PYTHON = pythonWithTorch();

function sums(entries: Array<[string, Tensor]>): Record<string, number> {
  return Object.fromEntries(entries.map(([name, t]) => [name, Array.from(t.toArray(), Number).reduce((a, b) => a + b, 0)]));
}

describe("weights in and out", () => {
  let model: Model;
  beforeAll(() => {
    model = Model.create({ ...tiny, head, seed: 3 });
  });
  afterAll(() => model.dispose());

  for (const file of ["round.pth", "round.safetensors"]) {
    it(`${file}: save, load in a fresh model, identical outputs`, async () => {
      const path = join(dir, file);
      await model.save(path);
      const fresh = Model.create({ ...tiny, head, seed: 4 });
      const before = await fresh.features(images);
      const expected = await model.features(images);
      expect(maxAbsDiff(before, expected)).toBeGreaterThan(1e-3); // different seeds differ
      await fresh.load(path);
      expect(maxAbsDiff(await fresh.features(images), expected)).toBe(0);
      const a = await fresh.trainingForward(images);
      const b = await model.trainingForward(images);
      expect(maxAbsDiff(a.cls!, b.cls!)).toBe(0);
      fresh.dispose();
    });
  }

  it("exports the backbone alone with names relative to it, and loads it back", async () => {
    const path = join(dir, "backbone.safetensors");
    await model.save(path, { part: "backbone" });
    const groups = await readWeightGroups(join(dir, "round.pth"));
    expect(groups[0]![1].some(([n]) => n === "head.mlp.0.weight")).toBe(true);
    const backbone = Model.create({ ...tiny, head: false });
    await backbone.load(path);
    expect(maxAbsDiff(await backbone.features(images), await model.features(images))).toBe(0);
    backbone.dispose();
  });

  it("loads data-parallel names (module.) and picks a checkpoint's teacher or student", async () => {
    const other = Model.create({ ...tiny, head, seed: 9 });
    const prefixed = (m: Model) => m.state().map(([n, t]): [string, Tensor] => [`module.${n}`, t]);
    // a training checkpoint written as Python's reference does: {"student": ..., "teacher": ...}
    const path = join(dir, "checkpoint.pth");
    await native().savePth(join(dir, "student.pth"), prefixed(other));
    await native().savePth(join(dir, "teacher.pth"), prefixed(model));
    if (hasPythonTorch()) {
      const script = `import torch; d = {"student": torch.load("${dir}/student.pth"), "teacher": torch.load("${dir}/teacher.pth"), "epoch": 3}; torch.save(d, "${path}")`;
      expect(spawnSync(PYTHON!, ["-c", script], { encoding: "utf8" }).stderr).toBe("");
      const fresh = Model.create({ ...tiny, head, seed: 5 });
      await fresh.load(path); // teacher by default
      expect(maxAbsDiff(await fresh.features(images), await model.features(images))).toBe(0);
      await fresh.load(path, { checkpointKey: "student" });
      expect(maxAbsDiff(await fresh.features(images), await other.features(images))).toBe(0);
      await expect(fresh.load(path, { checkpointKey: "ema" })).rejects.toThrow(/has no state dict under "ema"; it has "student", "teacher"/);
      fresh.dispose();
    }
    const fresh = Model.create({ ...tiny, head, seed: 6 });
    await fresh.load(join(dir, "student.pth"));
    expect(maxAbsDiff(await fresh.features(images), await other.features(images))).toBe(0);
    fresh.dispose();
    other.dispose();
  });

  it.runIf(hasPythonTorch())(
    "Python's weights-only torch.load (the default from PyTorch 2.6) reads our .pth with the same names and values",
    async () => {
      const path = join(dir, "for-python.pth");
      await model.save(path);
      const script = [
        "import json, sys, torch",
        `d = torch.load("${path}", weights_only=True)`,
        "print(json.dumps({k: float(v.double().sum()) for k, v in d.items()}))",
      ].join("\n");
      const run = spawnSync(PYTHON!, ["-c", script], { encoding: "utf8" });
      expect(run.status, run.stderr).toBe(0);
      const fromPython = JSON.parse(run.stdout) as Record<string, number>;
      const state = model.state();
      const ours = sums(state);
      expect(Object.keys(fromPython).sort()).toEqual(Object.keys(ours).sort());
      for (const [name, value] of Object.entries(ours)) expect(fromPython[name]).toBeCloseTo(value, 3);
      for (const [, t] of state) t.dispose();
    },
  );

  it("a mismatched checkpoint names the offending keys", async () => {
    const path = join(dir, "wide.pth");
    const wide = Model.create({ ...tiny, embedDim: 32, depth: 3, head, maskedImModeling: true });
    await wide.save(path);
    wide.dispose();
    const error = await model.load(path).then(
      () => "loaded",
      (e: Error) => e.message,
    );
    expect(error).toMatch(/^cannot load .*wide\.pth: the checkpoint does not match the model/);
    expect(error).toMatch(/unexpected keys \(\d+\): .*backbone\.masked_embed/);
    expect(error).toMatch(/unexpected keys .*backbone\.blocks\.2\.norm1\.weight/);
    expect(error).toMatch(/wrongly-shaped keys \(\d+\): .*backbone\.cls_token \(checkpoint \[1, 1, 32\], model \[1, 1, 24\]\)/);
    const shallow = Model.create({ ...tiny, depth: 3, head });
    const missing = await shallow.load(join(dir, "round.pth")).then(
      () => "loaded",
      (e: Error) => e.message,
    );
    expect(missing).toMatch(/missing keys \(\d+\): .*backbone\.blocks\.2\.attn\.qkv\.weight/);
    shallow.dispose();
  });

  it("rejects unreadable and missing files with the reason", async () => {
    await expect(model.load(join(dir, "nope.pth"))).rejects.toThrow(
      `${join(dir, "nope.pth")}: there is no such file; give the path of a checkpoint or weights file`,
    );
    await expect(model.load(dir)).rejects.toThrow(`${dir} is a folder, not a checkpoint or weights file`);
    await expect(model.load(join(dir, "nope.safetensors"))).rejects.toThrow(`${join(dir, "nope.safetensors")}: there is no such file`);
    const { writeFileSync } = await import("node:fs");
    writeFileSync(join(dir, "junk.pth"), "not a zip");
    await expect(model.load(join(dir, "junk.pth"))).rejects.toThrow(
      /junk\.pth is not a whole torch\.save file of the zip format \(.*\): a copy cut short, or a file of another kind\. A file of PyTorch's older format can be re-saved/,
    );
    writeFileSync(join(dir, "junk.safetensors"), "x");
    await expect(model.load(join(dir, "junk.safetensors"))).rejects.toThrow(/not a valid safetensors file/);
  });
});

describe("model options and lifetime", () => {
  it("names each invalid option with what was given and what is allowed", () => {
    expect(() => Model.create({ arch: "custom", embedDim: 10 })).toThrow(/arch: arch "custom" needs embedDim, depth and numHeads/);
    expect(() => Model.create({ ...tiny, numHeads: 5 })).toThrow(/numHeads: must divide embedDim \(24\) \(given: 5\)/);
    expect(() => Model.create({ ...tiny, imgSize: 18 })).toThrow(/imgSize: must be a multiple of patchSize \(4\) \(given: 18\)/);
    expect(() => Model.create({ ...tiny, device: "gpu" })).toThrow(/device: expected "cpu", "cuda" or "cuda:N" \(given: "gpu"\)/);
    expect(() => Model.create({ ...tiny, arch: "vit_huge" as "vit_tiny" })).toThrow(/invalid model options:\n {2}arch: /);
  });

  it("says why CUDA cannot be used when it is requested but absent", () => {
    if (native().info().cuda.available) return;
    expect(() => Model.create({ ...tiny, device: "cuda" })).toThrow(
      /device "cuda" was requested but (this build of sere-torch has no CUDA support|no CUDA device is usable)/,
    );
  });

  it("1,000 create/dispose cycles leave the live-object count where it started", () => {
    const before = liveObjects();
    for (let i = 0; i < 1000; i++)
      Model.create({ arch: "custom", embedDim: 4, depth: 1, numHeads: 1, patchSize: 4, imgSize: 8, head: false }).dispose();
    expect(liveObjects()).toBe(before);
  });
});
