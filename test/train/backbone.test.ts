// A checkpoint's stored configuration builds the model that reads it; a corrupt or forged one
// is refused, naming the file and the field, before any model is allocated.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

import { resolveTrainConfig } from "../../src/config/resolve.js";
import { native } from "../../src/native/load.js";
import { storedTrainConfig } from "../../src/train/backbone.js";
import { stepOptionsFrom } from "../../src/train/step-options.js";

const config = resolveTrainConfig({
  overrides: {
    arch: "custom",
    embedDim: 24,
    depth: 2,
    numHeads: 2,
    patchSize: 8,
    convStem: false,
    globalCropsSize: 32,
    localCropsSize: 16,
    outDim: 64,
    hiddenDim: 32,
    bottleneckDim: 16,
  },
});

describe("the configuration a checkpoint stores", () => {
  const dir = mkdtempSync(join(tmpdir(), "sere-stored-config-"));
  /** A real training checkpoint of `config`'s networks that stores `storedConfig` beside them. */
  let save: (name: string, storedConfig: string) => Promise<string>;
  beforeAll(() => {
    const step = new (native().SereStep)(stepOptionsFrom(config));
    save = async (name, storedConfig) => {
      const path = join(dir, name);
      await step.save(path, { epoch: 1, config: storedConfig });
      return path;
    };
  });

  it("is read back when it matches the weights", async () => {
    const path = await save("honest.pth", JSON.stringify(config));
    expect((await storedTrainConfig(path))?.embedDim).toBe(24);
  });

  it("claiming embedDim 32768 and depth 48 is refused before a model is built", async () => {
    const path = await save("forged.pth", JSON.stringify({ ...config, embedDim: 32768, depth: 48 }));
    await expect(storedTrainConfig(path)).rejects.toThrow(
      /forged\.pth: its stored configuration does not match its "teacher" weights: embedDim 32768 .*backbone\.cls_token of shape \[1, 1, 24\]/,
    );
  });

  const mismatches: Array<[string, Record<string, number | boolean>, RegExp]> = [
    ["depth", { depth: 3 }, /depth 3 .*2 blocks/],
    ["patchSize", { patchSize: 4 }, /patchSize 4 .*backbone\.patch_embed\.proj\.weight of shape \[24, 3, 8, 8\]/],
    ["globalCropsSize", { globalCropsSize: 64 }, /globalCropsSize 64 .*backbone\.pos_embed of shape \[1, 17, 24\]/],
    ["convStem", { convStem: true }, /they have no backbone\.patch_embed\.convs\.2\.weight/],
  ];
  for (const [field, change, problem] of mismatches) {
    it(`a wrong ${field} is refused naming the field`, async () => {
      const path = await save(`wrong-${field}.pth`, JSON.stringify({ ...config, ...change }));
      await expect(storedTrainConfig(path)).rejects.toThrow(problem);
    });
  }

  it("that is not JSON is an error naming the file", async () => {
    const path = await save("garbled-config.pth", '{"arch": "custom", "embedDim"');
    await expect(storedTrainConfig(path)).rejects.toThrow(/garbled-config\.pth: its stored configuration is not JSON/);
  });
});
