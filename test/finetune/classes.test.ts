// A classifier is fine-tuned on labelled images, and scored only on data of its classes.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { checkSameClasses } from "../../src/finetune/classify.js";
import { Finetuner } from "../../src/finetune/finetuner.js";
import { fakeDataset, tempDir, writePng } from "../data/helpers.js";

const data = (classes: string[]) => ({ ...fakeDataset("/data/test", 4, () => Promise.reject(new Error("not read"))), classes });

describe("the classes of a classifier and of the data it is scored on", () => {
  it("must be the same names in the same order, or (a checkpoint without names) the same count", () => {
    const named = { numClasses: 2, classes: ["cats", "dogs"] };
    expect(() => checkSameClasses(named, data(["cats", "dogs"]), "best.pth")).not.toThrow();
    expect(() => checkSameClasses(named, data(["dogs", "cats"]), "best.pth")).toThrow(
      "best.pth classifies the 2 classes cats, dogs, but /data/test has 2: dogs, cats; give the data it was fine-tuned on (the same classes, in the same order), or fine-tune on this data",
    );
    const counted = { numClasses: 10 };
    expect(() => checkSameClasses(counted, data(Array.from({ length: 10 }, (_, i) => String(i))), "old.pth")).not.toThrow();
    expect(() => checkSameClasses(counted, data(["a", "b", "c", "d", "e", "f", "g"]), "old.pth")).toThrow(
      "old.pth classifies 10 classes, but /data/test has 7: a, b, c, d, e and 2 more;",
    );
    // unlabelled data has no classes to compare (and no accuracy to give)
    expect(() => checkSameClasses(named, data([]), "best.pth")).not.toThrow();
  });

  it("fine-tuning refuses images without labels before it trains", async () => {
    const data = tempDir("finetune-unlabelled");
    for (const split of ["train", "test"]) {
      mkdirSync(join(data, split));
      await writePng(join(data, split, "0.png"), 16, 16, 1);
    }
    const run = new Finetuner({ dataPath: data, epochs: 1, warmupEpochs: 0, outputDir: join(data, "run") });
    await expect(run.fit()).rejects.toThrow(
      `${join(data, "train")} has no labels (no class subfolders, or a list without labels): fine-tuning needs labelled images`,
    );
  });
});
