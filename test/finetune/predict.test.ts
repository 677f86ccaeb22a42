// `sere predict`: a fine-tuned classifier's most probable classes for each image, of any source
// (a dataset's test split, a plain folder, one image file), agreeing with `sere eval classify`.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

import { testAccuracy } from "../../src/finetune/classify.js";
import { Finetuner } from "../../src/finetune/finetuner.js";
import { type Prediction, predict } from "../../src/finetune/predict.js";
import { type Tensor, tensor } from "../../src/index.js";
import type { NativeFinetuneStep } from "../../src/native/surface.js";
import { fakeDataset, tempDir, writePng } from "../data/helpers.js";
import { hasFashionMnist } from "../requirements.js";

const FASHION_MNIST = "/usr/share/datasets/fashion-mnist";
const sere = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/sere.ts", ...args], { encoding: "utf8" });
const read = (dir: string) => JSON.parse(readFileSync(join(dir, "predictions.json"), "utf8")) as Prediction[];

describe.runIf(hasFashionMnist())("sere predict", () => {
  const dir = tempDir("predict");
  const checkpoint = join(dir, "run", "checkpoint.pth");

  beforeAll(async () => {
    const network = { arch: "custom", embedDim: 24, depth: 1, numHeads: 2, patchSize: 8, inputSize: 32 } as const;
    await new Finetuner({
      ...network,
      dataPath: FASHION_MNIST,
      limit: 256,
      epochs: 1,
      warmupEpochs: 0,
      batchSizePerGpu: 32,
      threads: 1,
      outputDir: join(dir, "run"),
    }).fit();
  }, 120_000);

  it("lists each test image's most probable classes, whose first and first five agree with sere eval classify", () => {
    const common = ["--pretrained-weights", checkpoint, "--data-path", FASHION_MNIST, "--limit", "100", "--threads", "1"];
    const run = sere(["predict", ...common, "--classes", "10", "--output-dir", join(dir, "all")]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain(`wrote ${join(dir, "all", "predictions.json")}: the most probable 10 classes of 100 images`);
    const predictions = read(join(dir, "all"));
    expect(predictions).toHaveLength(100);
    expect(predictions[0]!.image).toBe("t10k-images-idx3-ubyte.gz#0");
    for (const p of predictions) {
      const probabilities = p.top.map((t) => t.probability);
      expect(probabilities).toEqual([...probabilities].sort((a, b) => b - a));
      expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      expect(new Set(p.top.map((t) => t.class)).size).toBe(10);
    }
    const classify = sere(["eval", "classify", ...common, "--output-dir", join(dir, "classify")]);
    expect(classify.status, classify.stderr).toBe(0);
    const accuracy = JSON.parse(classify.stdout) as { top1: number; top5: number };
    const share = (hit: (p: Prediction) => boolean) => (100 * predictions.filter(hit).length) / predictions.length;
    expect(share((p) => p.top[0]!.class === p.label)).toBeCloseTo(accuracy.top1, 10);
    expect(share((p) => p.top.slice(0, 5).some((t) => t.class === p.label))).toBeCloseTo(accuracy.top5, 10);
  });

  it("predicts one image file, or a plain folder's images, without labels", async () => {
    const folder = join(dir, "photos");
    mkdirSync(folder);
    for (const i of [0, 1, 2]) await writePng(join(folder, `${i}.png`), 28, 28, i);
    const one = sere(["predict", "--pretrained-weights", checkpoint, "--data-path", join(folder, "1.png"), "--output-dir", join(dir, "one")]);
    expect(one.status, one.stderr).toBe(0);
    const [prediction] = read(join(dir, "one"));
    expect([prediction!.image, prediction!.label, prediction!.top.length]).toEqual([join(folder, "1.png"), undefined, 5]);
    // a few images: each one's classes on the terminal too
    expect(one.stdout).toMatch(new RegExp(`^${join(folder, "1.png")}: (\\S[^,]* \\d+\\.\\d%, ){4}\\S[^,]* \\d+\\.\\d%$`, "m"));
    const all = sere(["predict", "--pretrained-weights", checkpoint, "--data-path", folder, "--classes", "1", "--output-dir", join(dir, "folder")]);
    expect(all.status, all.stderr).toBe(0);
    expect(read(join(dir, "folder")).map((p) => [p.image, p.top.length])).toEqual([0, 1, 2].map((i) => [join(folder, `${i}.png`), 1]));
    // the test split asked for where there is none: said as such, with the way to all the images
    const test = sere(["predict", "--pretrained-weights", checkpoint, "--data-path", folder, "--split", "test", "--output-dir", join(dir, "none")]);
    expect(test.status).toBe(1);
    expect(test.stderr).toMatch(new RegExp(`^sere: --split test: ${folder} has no test split; leave --split out to predict all its images \\(`));
  });
});

describe("the options of predict and testAccuracy, as plain JavaScript may give them", () => {
  // 6 labelled 8 x 8 images of 2 classes, and a "classifier" whose logits favour each image's class
  const dataset = {
    ...fakeDataset("six", 6, async (i: number) => ({ width: 8, height: 8, data: new Uint8Array(8 * 8 * 3).fill(40 * i) })),
    classes: ["a", "b"],
    label: (i: number) => i % 2,
  };
  const sides: number[] = [];
  const logits = async (images: Tensor) => {
    const [rows, , side] = images.shape() as [number, number, number];
    sides.push(side);
    // the images' labels alternate, as the batch keeps the dataset's order
    return tensor(
      Float32Array.from({ length: rows * 2 }, (_, k) => (k % 2 === Math.floor(k / 2) % 2 ? 1 : 0)),
      [rows, 2],
    );
  };
  const step = { logits } as unknown as NativeFinetuneStep;

  it("testAccuracy refuses a missing or bad size rather than scoring 224 px crops", async () => {
    for (const size of [undefined, 0, 12.5, "16"]) {
      await expect(testAccuracy(step, dataset, { device: "cpu", size } as never)).rejects.toThrow(
        /invalid testAccuracy options \(size: the side of the centre crops, the classifier's OpenedClassifier.size\):\n {2}size: /,
      );
    }
    expect(sides).toEqual([]);
    expect(await testAccuracy(step, dataset, { device: "cpu", size: 16 })).toEqual({ top1: 100, top5: 100 });
    expect(sides).toEqual([16]);
  });

  it("predict refuses a negative limit; 0 is all, as the CLI's --limit 0", async () => {
    const classifier = { step, size: 8, numClasses: 2, classes: ["a", "b"] } as never;
    await expect(predict(classifier, dataset, { device: "cpu", limit: -2 })).rejects.toThrow(
      /limit: Too small: expected number to be >=0 \(given: -2\)/,
    );
    expect((await predict(classifier, dataset, { device: "cpu", limit: 0 })).predictions).toHaveLength(6);
    expect((await predict(classifier, dataset, { device: "cpu", limit: 3 })).predictions.map((p) => p.image)).toEqual([
      "image 0",
      "image 2",
      "image 4",
    ]);
  });
});
