// scripts/check-gpu.sh rehearsed on the CPU (SERE_CHECK_GPU_DEVICE=cpu): the stages of the GPU
// check with tiny sizes, one JSON out; a stage that fails is recorded and the later ones run.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { deviceTestFiles } from "../../scripts/check-gpu.js";

const dir = mkdtempSync(join(tmpdir(), "sere-check-gpu-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Stage {
  name: string;
  ok: boolean;
  seconds: number;
  limitSeconds: number;
  result?: Record<string, unknown>;
  error?: string;
}

describe("scripts/check-gpu.sh, rehearsed on the CPU", () => {
  it("runs every stage into one JSON; the eager side failing fails its stage alone", { timeout: 150_000 }, () => {
    const out = join(dir, "check.json");
    const run = spawnSync("scripts/check-gpu.sh", [out], {
      encoding: "utf8",
      env: {
        ...process.env,
        SERE_CHECK_GPU_DEVICE: "cpu",
        SERE_CHECK_GPU_TESTS: "test/model/parity.test.ts",
        // No Python there: the eager step cannot start.
        SERE_BENCH_PYTHON: join(dir, "no-such-python"),
      },
    });
    expect(run.status, run.stderr).toBe(1);
    const report = JSON.parse(readFileSync(out, "utf8")) as { device: string; rehearsal: boolean; ok: boolean; seconds: number; stages: Stage[] };
    expect(report).toMatchObject({ device: "cpu", rehearsal: true, ok: false });
    const stages = new Map(report.stages.map((s) => [s.name, s]));
    expect([...stages.keys()]).toEqual(["build", "info", "tests", "step tiny b2 bfloat16", "data b4", "train 6 steps"]);
    for (const s of report.stages) expect(s.seconds).toBeLessThanOrEqual(s.limitSeconds + 1);

    expect(stages.get("build")).toMatchObject({ ok: true, result: { compiled: false } });
    expect(stages.get("info")).toMatchObject({ ok: true, result: { cuda: { available: false } } });
    // The CPU variants of the device tests ran; the CUDA ones, left out by the name filter, count as neither run nor skipped.
    const tests = stages.get("tests")!;
    expect(tests, tests.error).toMatchObject({ ok: true, result: { files: ["test/model/parity.test.ts"], failed: [], skipped: [] } });
    expect(tests.result!.passed).toBeGreaterThanOrEqual(5);

    // The failed side is named with its error; the other side's numbers are kept.
    const step = stages.get("step tiny b2 bfloat16")!;
    expect(step.ok).toBe(false);
    expect(step.error).toMatch(/^eager: bench\/eager_step.py: cannot start .*no-such-python/);
    expect(step.result).toMatchObject({
      batch: 2,
      precision: "bfloat16",
      device: "cpu",
      eager: { error: expect.stringContaining("no-such-python") },
      speedRatio: null,
    });
    expect((step.result!.native as { imagesPerSecond: number }).imagesPerSecond).toBeGreaterThan(0);

    // The loader alone, at the step's batch.
    const data = stages.get("data b4")!;
    expect(data, data.error).toMatchObject({ ok: true, result: { photos: 8, batch: 4, device: "cpu" } });
    expect((data.result as { imagesPerSecond: number }).imagesPerSecond).toBeGreaterThan(0);

    // ...and the stages after it still ran.
    const train = stages.get("train 6 steps")!;
    expect(train, train.error).toMatchObject({ ok: true, result: { steps: 6, lossFalls: true } });
    expect(train.result!.losses).toHaveLength(6);
  });

  it("its tests stage takes every test file with device variants (test/devices.ts), NCCL's included", () => {
    const files = deviceTestFiles();
    expect(files).toEqual(
      expect.arrayContaining([
        "test/model/parity.test.ts",
        "test/train/step-reference.test.ts",
        "test/finetune/step-reference.test.ts",
        "test/distributed/data-parallel.test.ts",
        "test/data/render.test.ts",
        "test/eval/knn.test.ts",
      ]),
    );
    expect(files).not.toContain("test/style.test.ts");
    for (const file of files) expect(file).toMatch(/^test\/.*\.test\.ts$/);
  });

  it("refuses to run without an output path, saying how to call it", () => {
    const run = spawnSync("scripts/check-gpu.sh", [], { encoding: "utf8" });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("usage: scripts/check-gpu.sh OUT.json");
  });
});
