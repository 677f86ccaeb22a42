// `sere predict`: a fine-tuned classifier's most probable classes for each image, of any source
// (a dataset's test split, a plain folder, one image file), agreeing with `sere eval classify`.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

import { Finetuner } from "../../src/finetune/finetuner.js";
import type { Prediction } from "../../src/finetune/predict.js";
import { tempDir, writePng } from "../data/helpers.js";
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
  });
});
