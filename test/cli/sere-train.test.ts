// The sere-train command as a user runs it, in a child process.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";

import { resolveTrainConfig } from "../../src/config/resolve.js";
import { disposeCheckpoint, readTrainingCheckpoint } from "../../src/train/checkpoint.js";
import { hasFashionMnist } from "../requirements.js";
import { QUICK_FLAGS } from "./quick-flags.js";

const CLI = ["--import", "tsx", "src/cli/sere-train.ts"];

const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));

describe.runIf(hasFashionMnist())("sere-train", () => {
  it("runs the default preset (reduced) and writes logs and a checkpoint that loads", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-cli-"));
    const run = spawnSync(process.execPath, [...CLI, ...QUICK_FLAGS, "--max-steps", "2", "--output-dir", dir], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(
      /^training on 60,000 images of \/usr\/share\/datasets\/fashion-mnist in batches of 4: to step 2 \(0\.00013 passes\) or for 9 minutes, whichever ends first; cpu, \d+ threads?, (float32|bfloat16)$/m,
    );
    // the progress line counts to the step the run ends at, not to the epochs' last
    expect(run.stderr).toMatch(/^epoch 0 step 1\/2 loss /m);
    expect(run.stderr).toContain("stopped (maxSteps) after 2 steps (0.00013 of 12 passes)");
    // the files the run wrote, as they are in the folder
    const events = readdirSync(dir).filter((name) => name.startsWith("events.out.tfevents."));
    expect(events).toHaveLength(1);
    expect(run.stderr).toContain(`outputs in ${dir}: checkpoint.pth, config.json, ${events[0]}, log.jsonl\n`);
    expect(readFileSync(join(dir, "log.jsonl"), "utf8").trim().split("\n")).toHaveLength(2);
    const checkpoint = await readTrainingCheckpoint(join(dir, "checkpoint.pth"));
    expect(checkpoint.state.iteration).toBe(2);
    expect(JSON.parse(String(checkpoint.extra.get("config"))).embedDim).toBe(24);
    disposeCheckpoint(checkpoint);
  });

  it("says within its first minute where the time limit will end a run that cannot reach its last step", () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-pace-"));
    // 12 passes of 15,000 steps cannot end in 30 s: the pace is said after 20 s of steps (the
    // first step's start-up, slow on a busy machine, comes before them).
    const run = spawnSync(process.execPath, [...CLI, ...QUICK_FLAGS, "--max-minutes", "0.5", "--output-dir", dir], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    const pace =
      /^at ([\d.]+) s a step the 0\.5-minute limit will end this run near step ([\d,]+) \([\d.]+ of 12 passes\); reaching step 180,000 would take about (\d+) minutes \(--max-minutes 0\)$/m.exec(
        run.stderr,
      );
    expect(pace, run.stderr).not.toBeNull();
    const stopped = /stopped \(maxMinutes\) after ([\d,]+) steps/.exec(run.stderr);
    expect(stopped, run.stderr).not.toBeNull();
    // The forecast and the steps made agree within a factor of two: the pace of a shared machine
    // (other test files run beside this one) moves after the forecast's twenty seconds.
    const [near, made] = [pace![2]!, stopped![1]!].map((n) => Number(n.replace(/,/g, ""))) as [number, number];
    expect(near / made).toBeGreaterThan(0.5);
    expect(near / made).toBeLessThan(2);
  }, 60_000);

  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    it(`stops on ${signal} after the current step with a checkpoint and exit code ${code}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "sere-signal-"));
      const child = spawn(process.execPath, [...CLI, ...QUICK_FLAGS, "--output-dir", dir], { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr!.on("data", (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes("step 1/") && !child.killed) child.kill(signal);
      });
      expect(await exited(child), stderr).toBe(code);
      expect(stderr).toContain("stopped (abort)");
      expect(stderr).toContain(`sere-train --resume --output-dir ${dir} continues it from ${join(dir, "checkpoint.pth")}\n`);
      const checkpoint = await readTrainingCheckpoint(join(dir, "checkpoint.pth"));
      expect(checkpoint.state.iteration).toBeGreaterThanOrEqual(1);
      disposeCheckpoint(checkpoint);
    });
  }

  it("a second Ctrl-C quits at once, saying where the run can go on from, and gives the folder's lock back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-signal-twice-"));
    // steps long enough (about a second) that the second Ctrl-C comes within the one the first stops after
    const slow = "--embed-dim 192 --depth 6 --num-heads 3 --global-crops-size 96 --batch-size-per-gpu 32 --threads 1".split(" ");
    const child = spawn(process.execPath, [...CLI, ...QUICK_FLAGS, ...slow, "--output-dir", dir], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    let presses = 0;
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      const next = ["step 1/", "press Ctrl-C again to quit now"][presses];
      if (next !== undefined && stderr.includes(next)) {
        presses++;
        child.kill("SIGINT");
      }
    });
    expect(await exited(child), stderr).toBe(130);
    expect(stderr).toContain(
      "Ctrl-C again: quitting now, without a checkpoint of this step; the run has no checkpoint yet: start it anew with --overwrite",
    );
    expect(stderr).not.toContain("stopped (abort)");
    expect(existsSync(join(dir, "run.lock"))).toBe(false);
  }, 60_000);

  it("Ctrl-C during the final k-NN evaluation stops it at once, keeps the checkpoint and says how to measure it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-signal-knn-"));
    // the k-NN of the whole dataset (70,000 images) takes far longer than the stop may
    const child = spawn(process.execPath, [...CLI, ...QUICK_FLAGS, "--knn-eval", "true", "--max-steps", "1", "--output-dir", dir], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    let stoppedAt = 0;
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes("k-NN evaluation of the teacher") && !child.killed) {
        stoppedAt = performance.now();
        child.kill("SIGINT");
      }
    });
    expect(await exited(child), stderr).toBe(130);
    expect(performance.now() - stoppedAt).toBeLessThan(15_000);
    expect(stderr).toContain("stopped (maxSteps) after 1 step");
    expect(stderr).toContain(
      `the k-NN evaluation was stopped; sere eval knn --pretrained-weights ${join(dir, "checkpoint.pth")} --data-path /usr/share/datasets/fashion-mnist measures it`,
    );
    expect(stderr).not.toContain("k-NN accuracy");
    const checkpoint = await readTrainingCheckpoint(join(dir, "checkpoint.pth"));
    expect(checkpoint.state.iteration).toBe(1);
    disposeCheckpoint(checkpoint);
  }, 60_000);

  it("a kill during a checkpoint write leaves the previous checkpoint loadable", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-kill-"));
    // writes checkpoints back to back; killed with SIGKILL at some point during one of them
    const script = `
      import { native } from "./src/native/load.ts";
      import { stepOptionsFrom } from "./src/train/step-options.ts";
      import { resolveTrainConfig } from "./src/config/resolve.ts";
      const step = new (native().SereStep)(stepOptionsFrom(resolveTrainConfig({ overrides: { arch: "vit_tiny", patchSize: 16, globalCropsSize: 32 } })));
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

describe("sere-train's own flags", () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [...CLI, ...args], { encoding: "utf8" });
  /** The value --help shows for a flag: "--epochs number (4)" is "4". */
  const shown = (help: string, flag: string) => new RegExp(`^  --${flag} \\S+ \\((.*)\\)$`, "m").exec(help)?.[1];

  it("names a bad value by its flag", () => {
    const run = cli("--global-crops-scale", "0.9", "0.2", "--print-config");
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("  --global-crops-scale: the first bound must not exceed the second (given: [0.9,0.2])");
    // from code, by its field
    expect(() => resolveTrainConfig({ overrides: { globalCropsScale: [0.9, 0.2] } })).toThrow("  globalCropsScale: the first bound");
  });

  it("--help shows the values of the chosen preset, the file and the flags, and what each field does", () => {
    const tiny = cli("--help");
    expect(tiny.status, tiny.stderr).toBe(0);
    expect([shown(tiny.stdout, "epochs"), shown(tiny.stdout, "patch-size"), shown(tiny.stdout, "alpha"), shown(tiny.stdout, "device")]).toEqual([
      "12",
      "8",
      "0.2",
      "cpu",
    ]);
    expect(tiny.stdout).toContain("--epochs number (12)\n      passes over the training set\n");
    const imagenet = cli("--preset", "vit-small-imagenet", "--help");
    expect([
      shown(imagenet.stdout, "epochs"),
      shown(imagenet.stdout, "patch-size"),
      shown(imagenet.stdout, "arch"),
      shown(imagenet.stdout, "precision"),
    ]).toEqual(["100", "16", "vit_small", "float16"]);
    expect(imagenet.stdout).toContain("preset vit-small-imagenet");
    expect(shown(cli("--epochs", "5", "--help").stdout, "epochs")).toBe("5");
  });

  it("--print-config prints the resolved configuration as YAML, snake_case flags and bare booleans included", () => {
    const run = cli("--preset", "vit-base-imagenet", "--batch_size_per_gpu", "8", "--knn-eval", "--print-config");
    expect(run.status, run.stderr).toBe(0);
    const config = parseYaml(run.stdout) as Record<string, unknown>;
    expect(config).toMatchObject({ arch: "vit_base", lr: 7.5e-4, batchSizePerGpu: 8, knnEval: true, globalCropsScale: [0.32, 1] });
    expect(Object.keys(config)).toEqual(expect.arrayContaining(["epochs", "outputDir", "seed"]));
    const bad = cli("--epochs", "0", "--print-config");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("epochs");
  });

  it("--version prints the package's version", () => {
    const run = cli("--version");
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`sere-train ${(JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version}\n`);
  });
});
