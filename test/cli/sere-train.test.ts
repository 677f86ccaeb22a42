// The sere-train command as a user runs it, in a child process.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { readTrainingCheckpoint, disposeCheckpoint } from "../../src/train/checkpoint.js";
import { hasFashionMnist } from "../requirements.js";

const CLI = ["--import", "tsx", "src/cli/sere-train.ts"];
const FASHION_MNIST = "/usr/share/datasets/fashion-mnist";
// the default preset, made small and quick
const quick = ["--embed-dim", "24", "--depth", "1", "--num-heads", "2", "--out-dim", "64", "--hidden-dim", "32", "--bottleneck-dim", "16", "--batch-size-per-gpu", "4", "--knn-eval", "false"];

const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));

describe.runIf(hasFashionMnist())("sere-train", () => {
  it("runs the default preset (reduced) and writes logs and a checkpoint that loads", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-cli-"));
    const run = spawnSync(process.execPath, [...CLI, ...quick, "--max-steps", "2", "--output-dir", dir], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toContain("stopped (maxSteps) after 2 steps");
    expect(run.stderr).toContain(`outputs in ${dir}`);
    expect(readFileSync(join(dir, "log.jsonl"), "utf8").trim().split("\n")).toHaveLength(2);
    const checkpoint = await readTrainingCheckpoint(join(dir, "checkpoint.pth"));
    expect(checkpoint.state.iteration).toBe(2);
    expect(JSON.parse(String(checkpoint.extra.get("config"))).embedDim).toBe(24);
    disposeCheckpoint(checkpoint);
  });

  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    it(`stops on ${signal} after the current step with a checkpoint and exit code ${code}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "sere-signal-"));
      const child = spawn(process.execPath, [...CLI, ...quick, "--output-dir", dir], { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr!.on("data", (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes("step 1/") && !child.killed) child.kill(signal);
      });
      expect(await exited(child), stderr).toBe(code);
      expect(stderr).toContain("stopped (abort)");
      const checkpoint = await readTrainingCheckpoint(join(dir, "checkpoint.pth"));
      expect(checkpoint.state.iteration).toBeGreaterThanOrEqual(1);
      disposeCheckpoint(checkpoint);
    });
  }

  it("a kill during a checkpoint write leaves the previous checkpoint loadable", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-kill-"));
    // writes checkpoints back to back; killed with SIGKILL at some point during one of them
    const script = `
      import { native } from "./src/native/load.ts";
      import { stepOptionsFrom } from "./src/train/step-options.ts";
      import { resolveTrainConfig } from "./src/config/resolve.ts";
      const step = new (native().SereStep)(stepOptionsFrom(resolveTrainConfig({ overrides: { arch: "vit_tiny", patchSize: 16 } })));
      for (let i = 0; ; i++) { await step.save(${JSON.stringify(join(dir, "checkpoint.pth"))}, { epoch: i }); process.stdout.write("saved\\n"); }
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let saves = 0;
    child.stdout!.on("data", (d: Buffer) => {
      saves += d.toString().split("saved").length - 1;
      if (saves >= 2) setTimeout(() => child.kill("SIGKILL"), 30);
    });
    await exited(child);
    expect(saves).toBeGreaterThanOrEqual(2);
    const checkpoint = await readTrainingCheckpoint(join(dir, "checkpoint.pth"));
    expect(Number(checkpoint.extra.get("epoch"))).toBeGreaterThanOrEqual(1);
    expect(checkpoint.state.student.some(([name]) => name === "backbone.cls_token")).toBe(true);
    disposeCheckpoint(checkpoint);
  });
});
