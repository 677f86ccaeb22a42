// Data-parallel runs through the sere-train command: the launcher, Ctrl-C, and a rank that
// dies or hangs; on a GPU, the launcher over NCCL.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import type { TrainConfig } from "../../src/config/train.js";
import { disposeCheckpoint, readTrainingCheckpoint } from "../../src/train/checkpoint.js";
import { learningRateAt } from "../../src/train/schedules.js";
import { QUICK_FLAGS } from "../cli/quick-flags.js";
import { tempDir, writeIdx } from "../data/helpers.js";
import { hasCudaDevices } from "../devices.js";
import { hasDataParallelism, hasFashionMnist } from "../requirements.js";
import { freePort, startRanks } from "./helpers.js";

const CLI = "src/cli/sere-train.ts";
const quick = [...QUICK_FLAGS, "--log-every", "1"];

/** The processes whose parent is `pid`. */
const childrenOf = (pid: number) =>
  execFileSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" })
    .trim()
    .split(/\s+/)
    .filter((p) => p !== "")
    .map(Number);

/** Whether a process runs (a zombie awaiting its reaper does not). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** The run's log.jsonl, one object per line. */
const readLog = <T>(dir: string) =>
  readFileSync(join(dir, "log.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as T);

function launcher(args: string[]) {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, OMP_NUM_THREADS: "1" },
  });
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
    const log = readLog<{ iteration: number; lr: number; iterationsPerEpoch: number }>(dir);
    expect(log).toHaveLength(3);
    // the learning rate scales with the batch of both ranks (2 x 4 images), over each rank's epoch
    const c = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as TrainConfig;
    expect(log[0]!.iterationsPerEpoch).toBe(Math.floor(60000 / 2 / 4));
    for (const l of log) {
      const timing = {
        epochs: c.epochs,
        iterationsPerEpoch: l.iterationsPerEpoch,
        lr: c.lr,
        minLr: c.minLr,
        schedule: c.lrSchedule,
        warmupEpochs: c.warmupEpochs,
      };
      expect(l.lr).toBeCloseTo(learningRateAt(l.iteration - 1, { ...timing, globalBatchSize: 8 }), 12);
      // (past the warmup's first iteration, which runs at 0 whatever the batch)
      if (l.iteration > 1) expect(l.lr).not.toBeCloseTo(learningRateAt(l.iteration - 1, { ...timing, globalBatchSize: 4 }), 12);
    }
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
    expect(refused.stderr).toContain(
      "it was written by a run of 2 rank(s) and this run has 1; resume with the same number of ranks (--nproc-per-node 2",
    );
    // ... and with them continues where the run stopped
    const resumeOnTwoRanks = async (...flags: string[]) =>
      launcher(["--nproc-per-node", "2", "--master-port", String(await freePort()), ...quick, "--resume", ...flags, "--output-dir", dir]).exited;
    const resumed = await resumeOnTwoRanks("--max-steps", "5");
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain("stopped (maxSteps) after 5 steps");
    const lines = readLog<{ iteration: number }>(dir);
    expect(lines.map((l) => l.iteration)).toEqual([1, 2, 3, 4, 5]);

    // A time limit stops both ranks after the same step (here the first: 60 microseconds), exit code 0.
    const limited = await resumeOnTwoRanks("--max-steps", "0", "--max-minutes", "0.000001");
    expect(limited.code, limited.stderr).toBe(0);
    expect(limited.stderr).toContain("stopped (maxMinutes) after 6 steps");
  }, 240_000);

  it("a single process's run resumes under the launcher with one rank, as the refusal above advises", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-launch-one-"));
    const first = await launcher([...quick, "--max-steps", "2", "--output-dir", dir]).exited;
    expect(first.code, first.stderr).toBe(0);
    const resumed = await launcher([
      "--nproc-per-node",
      "1",
      "--master-port",
      String(await freePort()),
      ...quick,
      "--resume",
      "--max-steps",
      "3",
      "--output-dir",
      dir,
    ]).exited;
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain("stopped (maxSteps) after 3 steps");
    expect(readLog<{ iteration: number }>(dir).map((l) => l.iteration)).toEqual([1, 2, 3]);
  }, 120_000);

  it("the launcher exits non-zero naming the rank that died", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-launch-kill-"));
    const run = launcher(["--nproc-per-node", "2", "--master-port", String(await freePort()), ...quick, "--dist-timeout", "10", "--output-dir", dir]);
    let victim = 0;
    run.child.stderr!.on("data", () => {
      if (victim || !run.stderr().includes("step 2/")) return;
      const ranks = execFileSync("ps", ["-o", "pid=", "--ppid", String(run.child.pid)], { encoding: "utf8" })
        .trim()
        .split(/\s+/)
        .map(Number);
      victim = ranks[1]!;
      process.kill(victim, "SIGKILL");
    });
    const { code, stderr } = await run.exited;
    expect(code).not.toBe(0);
    const rank = /sere-train: rank (\d) was killed by SIGKILL/.exec(stderr)?.[1];
    expect(rank, stderr).toBeDefined();
    expect(stderr).toContain(`sere-train: stopped because rank ${rank} failed`);
  }, 120_000);

  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    it(`${signal} on the launcher stops every rank after the same step, with a checkpoint, exit code ${code}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "sere-launch-signal-"));
      const run = launcher(["--nproc-per-node", "2", "--master-port", String(await freePort()), ...quick, "--output-dir", dir]);
      run.child.stderr!.on("data", () => {
        if (run.stderr().includes("step 2/") && !run.child.killed) run.child.kill(signal);
      });
      const { code: exitCode, stderr } = await run.exited;
      expect(exitCode, stderr).toBe(code);
      expect(stderr).toContain("stopped (abort)");
      const checkpoint = await readTrainingCheckpoint(join(dir, "checkpoint.pth"));
      const loaders = JSON.parse(String(checkpoint.extra.get("loaderRanks"))) as { batch: number }[];
      expect(loaders[0]!.batch).toBe(checkpoint.state.iteration);
      expect(loaders[1]!.batch).toBe(checkpoint.state.iteration);
      disposeCheckpoint(checkpoint);
    }, 120_000);
  }

  it("ranks do not outlive their launcher: killed with SIGKILL, its ranks are gone within seconds", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-launch-orphans-"));
    const run = launcher(["--nproc-per-node", "2", "--master-port", String(await freePort()), ...quick, "--output-dir", dir]);
    const ranks = await new Promise<number[]>((resolve) => {
      const training = () => {
        if (!run.stderr().includes("step 2/")) return;
        run.child.stderr!.off("data", training);
        resolve(childrenOf(run.child.pid!));
      };
      run.child.stderr!.on("data", training);
    });
    expect(ranks).toHaveLength(2);
    run.child.kill("SIGKILL");
    const killedAt = Date.now();
    while (ranks.some(alive) && Date.now() - killedAt < 15_000) await new Promise((r) => setTimeout(r, 100));
    const seconds = (Date.now() - killedAt) / 1000;
    for (const pid of ranks.filter(alive)) process.kill(pid, "SIGKILL");
    expect(seconds).toBeLessThan(10);
  }, 120_000);

  it("the launcher refuses an output folder holding an earlier run before starting any rank", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-launch-taken-"));
    writeFileSync(join(dir, "checkpoint.pth"), "");
    const { code, stderr } = await launcher(["--nproc-per-node", "2", ...quick, "--output-dir", dir]).exited;
    expect(code).toBe(1);
    expect(stderr).toContain(
      `the output folder ${dir} holds an earlier run (checkpoint.pth): continue it with --resume, start anew with --overwrite`,
    );
    expect(stderr).not.toContain("rank");
  });

  for (const [what, signal] of [
    ["dies", "SIGKILL"],
    ["hangs", "SIGSTOP"],
  ] as const) {
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

// The whole trainer (loader, step, c10d's Reducer, checkpoint) on one GPU, its rank joined over NCCL.
describe("the launcher over NCCL", () => {
  it.runIf(hasDataParallelism() && hasCudaDevices(1))(
    "on cuda [1 GPU(s)]: --nproc-per-node 1 --device cuda trains a short job over NCCL and writes one checkpoint",
    async () => {
      const data = tempDir("nccl-data"); // a small Fashion-MNIST-shaped set: the GPU machine may lack the real one
      writeIdx(data, "train", 64);
      writeIdx(data, "t10k", 16);
      const dir = mkdtempSync(join(tmpdir(), "sere-launch-nccl-"));
      const flags = ["--device", "cuda", "--data-path", data, "--max-steps", "3", "--output-dir", dir];
      const run = launcher(["--nproc-per-node", "1", "--master-port", String(await freePort()), ...quick, ...flags]);
      const { code, stderr } = await run.exited;
      expect(code, stderr).toBe(0);
      expect(stderr).toContain("stopped (maxSteps) after 3 steps");
      const log = readLog<{ total: number; cudaPeakMiB?: number }>(dir);
      expect(log).toHaveLength(3);
      for (const l of log) {
        expect(Number.isFinite(l.total)).toBe(true);
        expect(l.cudaPeakMiB).toBeGreaterThan(0);
      }
      // a checkpoint of a run of ranks: its world and every rank's loader position
      const checkpoint = await readTrainingCheckpoint(join(dir, "checkpoint.pth"));
      expect(checkpoint.state.iteration).toBe(3);
      expect(Number(checkpoint.extra.get("worldSize"))).toBe(1);
      expect(JSON.parse(String(checkpoint.extra.get("loaderRanks")))).toHaveLength(1);
      disposeCheckpoint(checkpoint);
    },
    240_000,
  );
});
