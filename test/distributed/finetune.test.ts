// Data-parallel fine-tuning through `sere finetune --nproc-per-node 2`: two ranks with batch B
// train as one process with batch 2B (the same images; crops, flips and mixing switched off so
// that no draw depends on the rank), and Ctrl-C stops both ranks after the same step.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { readWeightGroups } from "../../src/model/weights.js";
import { maxAbsDiff } from "../model/helpers.js";
import { hasDataParallelism, hasFashionMnist } from "../requirements.js";
import { freePort } from "./helpers.js";

const FASHION_MNIST = "/usr/share/datasets/fashion-mnist";
const SERE = ["--import", "tsx", "src/cli/sere.ts", "finetune"];
const env = { ...process.env, OMP_NUM_THREADS: "1" };
// A small random-initialised ViT; full-image crops (scale 1), no flips, no RandAugment, mixing,
// erasing or drop path: every draw that could differ between the ranks is off.
const deterministic = [
  ...["--data-path", FASHION_MNIST, "--limit", "96", "--arch", "custom", "--embed-dim", "24", "--depth", "2", "--num-heads", "2"],
  ...["--patch-size", "8", "--input-size", "32", "--epochs", "2", "--warmup-epochs", "0.5", "--lr", "1e-3", "--max-steps", "3"],
  ...["--crop-scale", "1", "1", "--hflip", "0", "--rand-augment-ops", "0", "--mixup", "0", "--cutmix", "0", "--reprob", "0"],
  ...["--drop-path", "0", "--threads", "1"],
];

const lossesOf = (dir: string) =>
  readFileSync(join(dir, "log.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { loss?: number })
    .flatMap((r) => (r.loss === undefined ? [] : [r.loss]));

describe.runIf(hasDataParallelism() && hasFashionMnist())("data-parallel sere finetune (Gloo, loopback)", () => {
  it.each([
    ["", []],
    // Per-rank statistics (8 images each) would leave the stem's running statistics 5e-3 apart after one step
    [" (a convolutional stem: its BatchNorm statistics over both ranks)", ["--conv-stem", "true"]],
  ])(
    "two ranks of batch 8 equal one process of batch 16 after 3 steps: losses and weights%s",
    async (_, stem) => {
      const dir = mkdtempSync(join(tmpdir(), "sere-finetune-dp-"));
      const one = spawnSync(process.execPath, [...SERE, ...deterministic, ...stem, "--batch-size-per-gpu", "16", "--output-dir", join(dir, "one")], {
        encoding: "utf8",
        env,
      });
      expect(one.status, one.stderr).toBe(0);
      const port = String(await freePort());
      const two = spawnSync(
        process.execPath,
        [
          ...SERE,
          "--nproc-per-node",
          "2",
          "--master-port",
          port,
          ...deterministic,
          ...stem,
          "--batch-size-per-gpu",
          "8",
          "--output-dir",
          join(dir, "two"),
        ],
        { encoding: "utf8", env },
      );
      expect(two.status, two.stderr).toBe(0);
      expect(two.stderr).toMatch(/in batches of 16 over 2 ranks: \d+ epochs of \d+ steps, to step 3; cpu, \d+ threads?, float32/);
      // the first rank speaks for both: one result on stdout, as JSON
      expect(JSON.parse(two.stdout)).toMatchObject({ steps: 3 });

      const [a, b] = [lossesOf(join(dir, "one")), lossesOf(join(dir, "two"))];
      expect(b).toHaveLength(3);
      for (const [i, loss] of a.entries()) expect(Math.abs(loss - b[i]!), `loss ${i + 1}`).toBeLessThan(1e-5);
      const model = async (run: string) => {
        const groups = new Map(await readWeightGroups(join(dir, run, "checkpoint.pth")));
        return new Map(groups.get("model")!);
      };
      const [single, ranks] = [await model("one"), await model("two")];
      expect(single.size).toBeGreaterThan(20);
      expect(single.has("patch_embed.norms.0.running_var")).toBe(stem.length > 0);
      for (const [name, t] of single) expect(maxAbsDiff(t, ranks.get(name)!), name).toBeLessThan(1e-5);
    },
    120_000,
  );

  it("Ctrl-C on the launcher stops both ranks after the same step, with a checkpoint, exit code 130", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-finetune-dp-stop-"));
    const port = String(await freePort());
    const args = [...SERE, "--nproc-per-node", "2", "--master-port", port, ...deterministic, "--batch-size-per-gpu", "8", "--max-steps", "0"];
    const child = spawn(process.execPath, [...args, "--epochs", "50", "--warmup-epochs", "1", "--output-dir", dir], {
      stdio: ["ignore", "ignore", "pipe"],
      env,
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    // Once both ranks train (the log has steps), interrupt the launcher.
    for (let waited = 0; waited < 60_000; waited += 200) {
      await new Promise((r) => setTimeout(r, 200));
      try {
        if (lossesOf(dir).length >= 2) break;
      } catch {
        // no log yet
      }
    }
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code, stderr).toBe(130);
    // (within a test evaluation, where the signal came during one)
    expect(stderr).toMatch(
      /stopped after \d+ steps \([\d.]+ of 50 passes\)(, before the test evaluation of epoch \d+ \(\d+ of \d+\) ended)?: wrote .*checkpoint\.pth; continue with --resume/,
    );
    const groups = new Map(await readWeightGroups(join(dir, "checkpoint.pth")));
    expect(groups.has("model")).toBe(true);
    // one process makes other batches than two ranks: resuming alone is refused, naming the ranks to give
    const alone = spawnSync(process.execPath, [...SERE, "--resume", "true", "--output-dir", dir], { encoding: "utf8", env });
    expect(alone.status).toBe(1);
    expect(alone.stderr).toContain(
      "it was written by a run of 2 rank(s) and this run has 1; resume with the same number of ranks (--nproc-per-node 2 on one machine)",
    );
  }, 120_000);

  it("Ctrl-C during the test evaluation stops both ranks within it, with a checkpoint, exit code 130", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-finetune-dp-stop-eval-"));
    const port = String(await freePort());
    // all 10,000 test images, each rank on one thread: the evaluation after the one step takes far longer than the wait below
    const args = [...SERE, "--nproc-per-node", "2", "--master-port", port, ...deterministic, "--batch-size-per-gpu", "8", "--max-steps", "1"];
    const child = spawn(process.execPath, [...args, "--limit", "0", "--output-dir", dir], { stdio: ["ignore", "ignore", "pipe"], env });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    for (let waited = 0; waited < 60_000 && !existsSync(join(dir, "log.jsonl")); waited += 100) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    const stopAsked = performance.now();
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(performance.now() - stopAsked).toBeLessThan(10_000);
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(
      /stopped after 1 step \([\d.]+ of 2 passes\), before the test evaluation of epoch 0 \(1 of 2\) ended: wrote .*checkpoint\.pth; continue with --resume/,
    );
    expect(new Map(await readWeightGroups(join(dir, "checkpoint.pth"))).has("model")).toBe(true);
  }, 120_000);
});
