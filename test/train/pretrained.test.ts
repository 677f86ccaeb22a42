// Continued pretraining: --pretrained-weights starts student and teacher from another run's
// exported backbone (heads fresh) or checkpoint (its teacher), and says what it took.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

import { resolveTrainConfig } from "../../src/config/resolve.js";
import { writeSafetensors } from "../../src/io/safetensors.js";
import { readWeightGroups } from "../../src/model/weights.js";
import { native } from "../../src/native/load.js";
import type { NativeEntries, NativeSereStep } from "../../src/native/surface.js";
import { tensor } from "../../src/tensor.js";
import { exportBackbone } from "../../src/train/export.js";
import { startFromPretrained } from "../../src/train/pretrained.js";
import { stepOptionsFrom } from "../../src/train/step-options.js";
import { Trainer } from "../../src/train/trainer.js";
import { TINY_RUN, tinyRun, writeImageFolder } from "../eval/helpers.js";

const values = (entries: NativeEntries) => new Map(entries.map(([name, t]) => [name, Array.from(t.toArray(), Number)]));
const dispose = (entries: NativeEntries) =>
  entries.forEach(([, t]) => {
    t.dispose();
  });
/** A fresh step of TINY_RUN, initialised from another seed than the run that made the files. */
const freshConfig = resolveTrainConfig({ overrides: { ...TINY_RUN, seed: 7 } });
const freshStep = (): NativeSereStep => new (native().SereStep)(stepOptionsFrom(freshConfig));
const fresh = { config: freshConfig, names: "flags" } as const;
const stateOf = async (step: NativeSereStep, which: "student" | "teacher") => {
  const entries = await step.state(which);
  const out = values(entries);
  dispose(entries);
  return out;
};

describe("--pretrained-weights", () => {
  const dir = mkdtempSync(join(tmpdir(), "sere-pretrained-"));
  const data = join(dir, "images");
  let backbone: string; // .safetensors, reference names without prefixes
  let backbonePth: string;

  beforeAll(async () => {
    await writeImageFolder(data, 8);
    await tinyRun(data, join(dir, "first"), { seed: 1 });
    [backbonePth, backbone] = (await exportBackbone(join(dir, "first", "checkpoint.pth"), { outputDir: join(dir, "export") })) as [string, string];
  });

  it("an exported backbone: both networks hold its weights at step 0, the heads keep their initial values", async () => {
    const file = values((await readWeightGroups(backbone))[0]![1]);
    for (const path of [backbone, backbonePth]) {
      const step = freshStep();
      const [studentBefore, teacherBefore] = [await stateOf(step, "student"), await stateOf(step, "teacher")];
      const start = await startFromPretrained(step, path, fresh);
      const [student, teacher] = [await stateOf(step, "student"), await stateOf(step, "teacher")];
      step.dispose();

      expect(start.key).toBe("");
      expect(start.unexpected).toEqual([]);
      expect(start.used.length).toBe(file.size);
      for (const [name, value] of file) {
        expect(student.get(`backbone.${name}`), name).toEqual(value);
        if (teacher.has(`backbone.${name}`)) expect(teacher.get(`backbone.${name}`), name).toEqual(value);
      }
      expect(studentBefore.get("backbone.cls_token")).not.toEqual(file.get("cls_token")); // another seed: the load changed it
      // what the backbone lacks: the heads, as initialised, alike in both networks
      expect(start.missing).toEqual(expect.arrayContaining(["head.mlp.0.weight", "head.last_layer.weight_v", "backbone.masked_embed"]));
      for (const name of start.missing) {
        expect(student.has(name) ? student.get(name) : teacher.get(name), name).toEqual(
          studentBefore.has(name) ? studentBefore.get(name) : teacherBefore.get(name),
        );
        if (student.has(name) && teacher.has(name)) expect(teacher.get(name), name).toEqual(student.get(name));
      }
    }
  });

  it("a training checkpoint: its teacher, heads included", async () => {
    const step = freshStep();
    const start = await startFromPretrained(step, join(dir, "first", "checkpoint.pth"), fresh);
    const teacher = await stateOf(step, "teacher");
    step.dispose();
    const source = (await readWeightGroups(join(dir, "first", "checkpoint.pth"))).find(([key]) => key === "teacher")![1];
    expect(start.key).toBe("teacher");
    expect(start.used).toContain("head.mlp.0.weight");
    expect(teacher.get("head.mlp.0.weight")).toEqual(values(source).get("head.mlp.0.weight"));
    dispose(source);
  });

  it("the trainer reports the keys used, missing and unexpected, and ignores the weights on --resume", async () => {
    const second = join(dir, "second");
    const run = async (options: { resume?: boolean }, maxSteps: number) => {
      const trainer = new Trainer(
        { ...TINY_RUN, dataPath: data, outputDir: second, maxSteps, pretrainedWeights: backbone },
        { progress: false, ...options },
      );
      const warnings: string[] = [];
      trainer.on("warning", (message) => warnings.push(message));
      await trainer.fit();
      return warnings;
    };
    const [started] = await run({}, 1);
    expect(started).toMatch(
      new RegExp(`^started student and teacher from ${backbone}: \\d+ tensors; \\d+ not in the file keep their initial values: .*head\\.`),
    );
    expect(await run({ resume: true }, 2)).toContain(
      `pretrainedWeights ${backbone} is ignored: the run resumes from ${join(second, "checkpoint.pth")}`,
    );
    // config.json keeps the weights the run started from, not those a resume ignored
    const settings = () => JSON.parse(readFileSync(join(second, "config.json"), "utf8")) as { pretrainedWeights?: string };
    expect(settings().pretrainedWeights).toBe(backbone);
    const other = new Trainer(
      { ...TINY_RUN, dataPath: data, outputDir: second, maxSteps: 3, pretrainedWeights: backbonePth },
      { progress: false, resume: true },
    );
    other.on("warning", () => {});
    await other.fit();
    expect(settings().pretrainedWeights).toBe(backbone);
  });

  it("names weights that do not fit, with the settings of the run they came from, and a missing file", async () => {
    const other = join(dir, "wide");
    await tinyRun(data, other, { embedDim: 32 });
    const step = freshStep();
    const checkpoint = join(other, "checkpoint.pth");
    // a sere-torch checkpoint stores its run's settings: the network's that differ, named
    await expect(startFromPretrained(step, checkpoint, fresh)).rejects.toThrow(
      new RegExp(
        `^--pretrained-weights ${checkpoint}: \\d+ tensors do not fit the model: .*cls_token \\(file \\[1, 1, 32\\], model \\[1, 1, 24\\]\\).*; ` +
          "its run's network had --embed-dim 32 \\(this run's: --embed-dim 24\\): give those$",
      ),
    );
    await expect(startFromPretrained(step, checkpoint, { ...fresh, names: "fields" })).rejects.toThrow(
      /^pretrainedWeights: .*; its run's network had embedDim: 32 \(this run's: embedDim: 24\): give those$/,
    );
    // an exported backbone stores none: the settings to look at
    const [, exported] = await exportBackbone(checkpoint, { outputDir: join(other, "export") });
    await expect(startFromPretrained(step, exported!, fresh)).rejects.toThrow(
      /tensors do not fit the model: .*; give the architecture they were trained with \(--arch, --patch-size, --global-crops-size; for custom --embed-dim, --depth, --num-heads\)$/,
    );
    const stranger = join(dir, "stranger.safetensors");
    const t = tensor(new Float32Array(4), [4]);
    await writeSafetensors(stranger, [["encoder.layer.0.weight", t]]);
    t.dispose();
    await expect(startFromPretrained(step, stranger, fresh)).rejects.toThrow(
      /none of its 1 tensors has a name of the model's \(it has encoder\.layer\.0\.weight\)/,
    );
    step.dispose();
    await expect(
      new Trainer(
        { ...TINY_RUN, dataPath: data, outputDir: join(dir, "none"), pretrainedWeights: join(dir, "nothing.pth") },
        { progress: false },
      ).fit(),
    ).rejects.toThrow(/pretrainedWeights .*nothing\.pth: there is no such file/);
  });
});
