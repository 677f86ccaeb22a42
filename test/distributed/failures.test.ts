// Data-parallel runs through the sere-train command: the launcher, Ctrl-C, and a rank that
// dies or hangs.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { disposeCheckpoint, readTrainingCheckpoint } from "../../src/train/checkpoint.js";
import { hasDataParallelism, hasFashionMnist } from "../requirements.js";
import { freePort, startRanks } from "./helpers.js";

const FASHION_MNIST = "/usr/share/datasets/fashion-mnist";
const CLI = "src/cli/sere-train.ts";
// the default preset, made small and quick
const quick = ["--embed-dim", "24", "--depth", "1", "--num-heads", "2", "--out-dim", "64", "--hidden-dim", "32", "--bottleneck-dim", "16", "--batch-size-per-gpu", "4", "--knn-eval", "false", "--log-every", "1"];

function launcher(args: string[]) {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, OMP_NUM_THREADS: "1" } });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on("exit", (code) => resolve({ code, stderr })));
  return { child, exited, stderr: () => stderr };
}

describe.runIf(hasFashionMnist() && hasDataParallelism())("data-parallel sere-train (Gloo, loopback)", () => {
  it("the launcher with --nproc-per-node 2 runs a short job to completion and writes one checkpoint", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-launch-"));
    const run = launcher(["--nproc-per-node", "2", "--master-port", String(await freePort()), ...quick, "--max-steps", "3", "--output-dir", dir]);
    const { code, stderr } = await run.exited;
    expect(code, stderr).toBe(0);
    expect(stderr).toContain("stopped (maxSteps) after 3 steps");
    // rank 0 alone wrote the log: one line per step
    expect(readFileSync(join(dir, "log.jsonl"), "utf8").trim().split("\n")).toHaveLength(3);
    const checkpoint = await readTrainingCheckpoint(join(dir, "checkpoint.pth"));
    expect(checkpoint.state.iteration).toBe(3);
    expect(Number(checkpoint.extra.get("worldSize"))).toBe(2);
    const loaders = JSON.parse(String(checkpoint.extra.get("loaderRanks"))) as { batch: number }[];
    expect(loaders.map((l) => l.batch)).toEqual([3, 3]);
    disposeCheckpoint(checkpoint);

    // resuming needs the same number of ranks ...
    const single = launcher([...quick, "--resume", "--max-steps", "5", "--output-dir", dir]);
    const refused = await single.exited;
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("it was written by a run of 2 rank(s) and this run has 1; resume with the same number of ranks (--nproc-per-node 2");
    // ... and with them continues where the run stopped
    const again = launcher(["--nproc-per-node", "2", "--master-port", String(await freePort()), ...quick, "--resume", "--max-steps", "5", "--output-dir", dir]);
    const resumed = await again.exited;
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain("stopped (maxSteps) after 5 steps");
    const lines = readFileSync(join(dir, "log.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { iteration: number });
    expect(lines.map((l) => l.iteration)).toEqual([1, 2, 3, 4, 5]);
  }, 180_000);

  it("the launcher exits non-zero naming the rank that died", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-launch-kill-"));
    const run = launcher(["--nproc-per-node", "2", "--master-port", String(await freePort()), ...quick, "--dist-timeout", "10", "--output-dir", dir]);
    let victim = 0;
    run.child.stderr!.on("data", () => {
      if (victim || !run.stderr().includes("step 2/")) return;
      const ranks = execFileSync("ps", ["-o", "pid=", "--ppid", String(run.child.pid)], { encoding: "utf8" }).trim().split(/\s+/).map(Number);
      victim = ranks[1]!;
      process.kill(victim, "SIGKILL");
    });
    const { code, stderr } = await run.exited;
    expect(code).not.toBe(0);
    const rank = /sere-train: rank (\d) was killed by SIGKILL/.exec(stderr)?.[1];
    expect(rank, stderr).toBeDefined();
    expect(stderr).toContain(`sere-train: stopped because rank ${rank} failed`);
  }, 120_000);

  it("Ctrl-C on the launcher stops every rank after the same step, with a checkpoint, exit code 130", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-launch-int-"));
    const run = launcher(["--nproc-per-node", "2", "--master-port", String(await freePort()), ...quick, "--output-dir", dir]);
    run.child.stderr!.on("data", () => {
      if (run.stderr().includes("step 2/") && !run.child.killed) run.child.kill("SIGINT");
    });
    const { code, stderr } = await run.exited;
    expect(code, stderr).toBe(130);
    expect(stderr).toContain("stopped (abort)");
    const checkpoint = await readTrainingCheckpoint(join(dir, "checkpoint.pth"));
    const loaders = JSON.parse(String(checkpoint.extra.get("loaderRanks"))) as { batch: number }[];
    expect(loaders[0]!.batch).toBe(checkpoint.state.iteration);
    expect(loaders[1]!.batch).toBe(checkpoint.state.iteration);
    disposeCheckpoint(checkpoint);
  }, 120_000);

  for (const [what, signal] of [["dies", "SIGKILL"], ["hangs", "SIGSTOP"]] as const) {
    it(`when a rank ${what}, the other stops within --dist-timeout with an error naming it`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "sere-fail-"));
      const timeout = 5;
      const [rank0, rank1] = await startRanks(CLI, 2, [...quick, "--dist-timeout", String(timeout), "--output-dir", dir]);
      let stoppedAt = 0;
      rank0!.child.stderr!.on("data", (d: Buffer) => {
        if (!stoppedAt && d.toString().includes("step 2/")) {
          stoppedAt = Date.now();
          rank1!.child.kill(signal);
        }
      });
      const { code, stderr } = await rank0!.exited;
      const seconds = (Date.now() - stoppedAt) / 1000;
      rank1!.child.kill("SIGKILL");
      expect(code).toBe(1);
      expect(stderr).toMatch(/data-parallel training stopped: .* failed on rank 0 in step \d+: rank 1 \(last seen in step \d+\) stopped answering/);
      expect(stderr).toContain("resume with --resume");
      expect(seconds).toBeLessThan(timeout + 20);
    }, 120_000);
  }
});
