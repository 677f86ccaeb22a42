import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";

import { flagsHelp, parseFlags } from "../../src/config/flags.js";
import { resolveTrainConfig } from "../../src/config/resolve.js";
import { type TrainConfigInput, trainConfigSchema } from "../../src/config/train.js";

const shape = trainConfigSchema.shape;

describe("command-line flags", () => {
  it("maps the reference's argument names in kebab-case onto the schema, with types", () => {
    const parsed = parseFlags(
      [
        "--arch",
        "vit_tiny",
        "--batch-size-per-gpu",
        "32",
        "--norm-last-layer",
        "false",
        "--global-crops-scale",
        "0.3",
        "1",
        "--lr=0.001",
        "--preset",
        "vit-small-imagenet",
      ],
      shape,
      ["preset", "config"],
    );
    expect(parsed.values).toEqual({ arch: "vit_tiny", batchSizePerGpu: 32, normLastLayer: false, globalCropsScale: [0.3, 1], lr: 0.001 });
    expect(parsed.extra).toEqual({ preset: "vit-small-imagenet" });
  });

  it("says what is wrong with a flag", () => {
    expect(() => parseFlags(["--batch-size", "4"], shape)).toThrow(/unknown flag --batch-size; did you mean --batch-size-per-gpu/);
    expect(() => parseFlags(["--epochs", "ten"], shape)).toThrow('--epochs: expected a number, given "ten"');
    expect(() => parseFlags(["--overlap-size", "13"], shape)).toThrow("--overlap-size needs 2 values, given 1");
    expect(() => parseFlags(["--shared-head", "maybe"], shape)).toThrow('--shared-head: expected true or false, given "maybe"');
    // decimal numbers only, as written in the reference's commands
    expect(() => parseFlags(["--lr", "0x10"], shape)).toThrow('--lr: expected a number, given "0x10"');
    expect(() => parseFlags(["--epochs", "Infinity"], shape)).toThrow('--epochs: expected a number, given "Infinity"');
    expect(parseFlags(["--lr", "5e-4", "--min-lr", "-1.5E-6", "--momentum-teacher", ".996"], shape).values).toEqual({
      lr: 5e-4,
      minLr: -1.5e-6,
      momentumTeacher: 0.996,
    });
  });

  it("takes several numbers as separate words or joined by commas", () => {
    const several = z.object({ nbKnn: z.array(z.number().int()), globalCropsScale: z.tuple([z.number(), z.number()]), lr: z.number() }).shape;
    for (const argv of [
      ["--nb-knn", "10", "20", "--global-crops-scale", "0.4", "1"],
      ["--nb-knn", "10,20", "--global-crops-scale", "0.4,1"],
      ["--nb-knn=10,20", "--global-crops-scale=0.4,1"],
    ]) {
      expect(parseFlags([...argv, "--lr", "1"], several).values).toEqual({ nbKnn: [10, 20], globalCropsScale: [0.4, 1], lr: 1 });
    }
    expect(() => parseFlags(["--global-crops-scale", "0.4,1,2"], several)).toThrow("--global-crops-scale needs 2 values, given 3");
    expect(() => parseFlags(["--nb-knn", "10,x"], several)).toThrow('--nb-knn: expected a number, given "x"');
  });

  it("a boolean flag alone means true: --overwrite, --knn-eval", () => {
    expect(parseFlags(["--knn-eval"], shape).values).toEqual({ knnEval: true });
    expect(parseFlags(["--knn-eval", "--tensorboard", "false"], shape).values).toEqual({ knnEval: true, tensorboard: false });
    expect(parseFlags(["--overwrite"], shape).values).toEqual({ overwrite: true });
    expect(parseFlags(["--overwrite", "--epochs", "3"], shape).values).toEqual({ overwrite: true, epochs: 3 });
    expect(parseFlags(["--overwrite", "false", "--knn-eval", "true"], shape).values).toEqual({ overwrite: false, knnEval: true });
    expect(resolveTrainConfig({ overrides: parseFlags(["--overwrite"], shape).values }).overwrite).toBe(true);
    expect(resolveTrainConfig({}).overwrite).toBe(false);
  });

  it("generates --help from the schema", () => {
    const help = flagsHelp(shape);
    expect(help).toContain("--batch-size-per-gpu number (default 128)\n      images a step on each device (rank)");
    expect(help).toContain("--arch vit_tiny|vit_small|vit_base|vit_large|custom (default vit_small)\n");
    expect(help).toContain("--overlap-size N N (default 13 13)");
  });

  it("describes every field of the training configuration", () => {
    const undescribed = Object.entries(shape).filter(([, field]) => !(field as { description?: string }).description);
    expect(undescribed.map(([name]) => name)).toEqual([]);
  });

  it("shows the values given instead of the schema's defaults", () => {
    const help = flagsHelp(shape, resolveTrainConfig({ preset: "fashion-mnist-tiny" }));
    expect(help).toContain("--epochs number (12)\n");
    expect(help).toContain("--patch-size number (8)\n");
    expect(help).toContain("--global-crops-size number (24)\n");
    expect(help).toContain("--global-crops-scale N N (0.6 1)\n");
  });

  it("accepts the reference's snake_case names", () => {
    const parsed = parseFlags(["--batch_size_per_gpu", "8", "--norm_last_layer", "false", "--local_crops_scale=0.1,0.3", "--knn_eval"], shape);
    expect(parsed.values).toEqual({ batchSizePerGpu: 8, normLastLayer: false, localCropsScale: [0.1, 0.3], knnEval: true });
    expect(parseFlags(["--print_config"], shape, [], ["print-config"]).extra).toEqual({ printConfig: true });
    expect(() => parseFlags(["--batch_size", "4"], shape)).toThrow(/unknown flag --batch_size; did you mean --batch-size-per-gpu/);
  });
});

describe("configuration sources", () => {
  it("flags override the file, the file overrides the preset", () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-config-"));
    const file = join(dir, "run.yaml");
    writeFileSync(file, "epochs: 7\nbatch-size-per-gpu: 16\nlr: 0.002\n");
    const c = resolveTrainConfig({ preset: "fashion-mnist-tiny", configFile: file, overrides: { lr: 0.003 } });
    expect(c.epochs).toBe(7); // file over preset (2)
    expect(c.batchSizePerGpu).toBe(16); // file over preset (64)
    expect(c.lr).toBe(0.003); // override over file
    expect(c.patchSize).toBe(8); // from the preset (the schema's default is 16)
  });

  it("the ImageNet presets are the published settings", () => {
    const s = resolveTrainConfig({ preset: "vit-small-imagenet" });
    expect([s.lr, s.minLr, s.weightDecay, s.weightDecayEnd, s.clipGrad, s.dropPath, s.alpha, s.beta]).toEqual([
      5e-4, 1e-6, 0.04, 0.4, 0.3, 0.1, 0.2, 0.5,
    ]);
    expect([s.normLastLayer, s.freezeLastLayer, s.warmupTeacherTempEpochs, s.globalCropsScale, s.localCropsScale]).toEqual([
      false,
      1,
      30,
      [0.4, 1],
      [0.05, 0.4],
    ]);
    const b = resolveTrainConfig({ preset: "vit-base-imagenet" });
    expect([b.lr, b.minLr, b.normLastLayer, b.freezeLastLayer, b.warmupTeacherTempEpochs, b.globalCropsScale, b.localCropsScale]).toEqual([
      7.5e-4,
      2e-6,
      true,
      3,
      50,
      [0.32, 1],
      [0.05, 0.32],
    ]);
  });

  it("names a bad preset, file or value", () => {
    expect(() => resolveTrainConfig({ preset: "vit-huge" })).toThrow(
      /unknown preset "vit-huge"; the presets are vit-small-imagenet, vit-base-imagenet, fashion-mnist-tiny/,
    );
    expect(() => resolveTrainConfig({ configFile: "/nonexistent.json" })).toThrow(
      "cannot read the config file /nonexistent.json: there is no such file",
    );
    expect(() => resolveTrainConfig({ configFile: tmpdir() })).toThrow(`cannot read the config file ${tmpdir()}: it is a folder, not a file`);
    // a JSON error says where: JSON.parse gives only the position
    const trailing = join(mkdtempSync(join(tmpdir(), "sere-json-")), "run.json");
    writeFileSync(trailing, '{\n  "lr": 0.001,\n  "epochs": 3,\n}\n');
    expect(() => resolveTrainConfig({ configFile: trailing })).toThrow(
      new RegExp(`^the config file ${trailing} is not valid JSON: .* \\(line 4, column 1\\)$`),
    );
    expect(() => resolveTrainConfig({ overrides: { epochs: -1 } })).toThrow(
      /invalid training configuration \(preset fashion-mnist-tiny\):\n {2}epochs: .*\(given: -1\)/,
    );
  });

  it("refuses a field it does not know, in the file or from code, naming close ones, where it would be dropped", () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-config-"));
    const file = join(dir, "run.yaml");
    writeFileSync(file, "lr: 0.002\nbatch_size: 16\nlearning-rate: 3\n");
    expect(() => resolveTrainConfig({ configFile: file })).toThrow(
      `invalid training configuration (preset fashion-mnist-tiny, file ${file}):\n` +
        "  batchSize: no such field; did you mean batchSizePerGpu? (given: 16)\n" +
        "  learningRate: no such field (given: 3)",
    );
    // From JavaScript, where no type stops a misspelt name.
    const overrides = { epochs: 3, warmupEpoch: 1 } as unknown as TrainConfigInput;
    expect(() => resolveTrainConfig({ overrides })).toThrow(
      / {2}warmupEpoch: no such field; did you mean warmupEpochs, warmupTeacherTemp, [a-zA-Z, ]+\? \(given: 1\)/,
    );
  });
});
