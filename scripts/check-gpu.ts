// Checks a GPU machine in one command (scripts/check-gpu.sh OUT.json; npm run check:gpu -- OUT.json):
// builds the addon against the CUDA PyTorch's LibTorch, reports info(), runs the tests' CUDA
// variants, times the ViT-S/16 step beside an eager PyTorch step of the same math on the same
// GPU, measures the training loader alone at the step's batch, and trains 50 steps of
// vit-small-imagenet on generated images. One JSON out, rewritten
// after every stage, so that a run cut short still says how far it got.
//
// Every stage runs under a limit, and all of them within TOTAL_SECONDS; a stage that fails
// is recorded with its error and the later stages still run.
//
// SERE_CHECK_GPU_DEVICE=cpu runs the same stages on the CPU with tiny sizes (the test of this
// script does), with the addon already built (LibTorch discovery only, no compile).
// SERE_CHECK_GPU_TESTS: space-separated test files for the tests stage (default: deviceTestFiles()).
// SERE_CHECK_GPU_STAGES: comma-separated stages to run (build, info, tests, step, data, train; default all),
// e.g. "build,info,tests" to rerun the checks without the timings.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import sharp from "sharp";

import { median, runEagerStep, runNativeStep, type StepCase, type StepTimes, stepCaseOf } from "../bench/train.js";
import { resolveTrainConfig } from "../src/config/resolve.js";
import type { TrainConfigInput } from "../src/config/train.js";
import { TINY_NETWORK } from "../test/train/helpers.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** The whole check, build included, stays under 8 minutes. */
const TOTAL_SECONDS = 470;
/** The test files whose numeric tests run once per device ("on cpu", "on cuda"): those that take their devices from test/devices.ts. */
export function deviceTestFiles(): string[] {
  const testDir = join(ROOT, "test");
  return (readdirSync(testDir, { recursive: true }) as string[])
    .filter((f) => f.endsWith(".test.ts") && readFileSync(join(testDir, f), "utf8").includes('from "../devices.js"'))
    .map((f) => `test/${f}`)
    .sort();
}

type Device = "cuda" | "cpu";

/** What differs between the check on a GPU and its rehearsal on the CPU. */
interface Plan {
  device: Device;
  /** Compile the addon into build/cuda (GPU), or use the one already built (CPU rehearsal). */
  compile: boolean;
  stepCases: Array<{ name: string; overrides: TrainConfigInput }>;
  stepRun: { warmup: number; steps: number };
  /** The training loader alone: `images` images in batches of `batch` from `photos` generated 500 x 375 JPEGs. */
  data: { batch: number; images: number; photos: number };
  train: { flags: string[]; steps: number; images: number; side: number };
}

/** The CPU rehearsal's network: the tests' one-block ViT on 32 px views (a step takes milliseconds). */
const TINY: TrainConfigInput = { ...TINY_NETWORK, dropPath: 0 };

function planFor(device: Device): Plan {
  if (device === "cuda") {
    const cases = [64, 128].flatMap((batch) =>
      (["bfloat16", "float16"] as const).map((precision) => ({
        name: `vit_small/16 2x224+10x96 b${batch} ${precision}`,
        overrides: { batchSizePerGpu: batch, precision, device: "cuda" } satisfies TrainConfigInput,
      })),
    );
    return {
      device,
      compile: true,
      stepCases: cases,
      stepRun: { warmup: 3, steps: 10 },
      data: { batch: 128, images: 1024, photos: 256 },
      // 50 steps of the preset as it is (batch 128, float16): one epoch of 50 x 128 images.
      train: { flags: ["--device", "cuda"], steps: 50, images: 50 * 128, side: 160 },
    };
  }
  const flags = Object.entries({ ...TINY, batchSizePerGpu: 4, precision: "float32", device: "cpu" }).flatMap(([key, value]) => [
    `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
    ...(Array.isArray(value) ? value.map(String) : [String(value)]),
  ]);
  return {
    device,
    compile: false,
    stepCases: [{ name: "tiny b2 bfloat16", overrides: { ...TINY, batchSizePerGpu: 2, precision: "bfloat16", device: "cpu" } }],
    stepRun: { warmup: 1, steps: 2 },
    data: { batch: 4, images: 8, photos: 8 },
    train: { flags, steps: 6, images: 6 * 4, side: 40 },
  };
}

// ---- Running things under a limit -------------------------------------------------------------

interface Output {
  stdout: string;
  stderr: string;
}

/**
 * Runs a command; rejects with the tail of its output when it fails or outlives `timeoutMs`.
 * Its stderr is echoed; `echoStdout` echoes its stdout too (a compiler's errors go there).
 */
function runCommand(command: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env, echoStdout = false): Promise<Output> {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs, killSignal: "SIGKILL" });
  let stdout = "";
  let stderr = "";
  let both = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
    both += d.toString();
    if (echoStdout) process.stderr.write(d);
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
    both += d.toString();
    process.stderr.write(d);
  });
  return new Promise((resolvePromise, reject) => {
    child.on("error", (e) => reject(new Error(`cannot start ${command}: ${e.message}`)));
    child.on("exit", (code, signal) => {
      if (code === 0) return resolvePromise({ stdout, stderr });
      const ended = signal === null ? `exited with ${code}` : `was stopped after its limit of ${Math.round(timeoutMs / 1000)} s (${signal})`;
      const tail = (echoStdout ? both : stderr)
        .trim()
        .split("\n")
        .slice(echoStdout ? -40 : -15);
      reject(new Error(`${command} ${args.slice(0, 3).join(" ")} ${ended}: ${tail.join("\n")}`));
    });
  });
}

/** A stage that failed part-way, with what it measured before failing. */
class PartialFailure extends Error {
  constructor(
    message: string,
    readonly partial: unknown,
  ) {
    super(message);
  }
}

interface StageRecord {
  name: string;
  ok: boolean;
  seconds: number;
  limitSeconds: number;
  result?: unknown;
  error?: string;
}

class Check {
  readonly started = Date.now();
  readonly stages: StageRecord[] = [];

  constructor(
    readonly plan: Plan,
    readonly outPath: string,
  ) {}

  private remainingMs(): number {
    return TOTAL_SECONDS * 1000 - (Date.now() - this.started);
  }

  /** Runs one stage within min(its limit, what the whole check has left); records it either way. */
  async stage(name: string, limitSeconds: number, body: (timeoutMs: number) => Promise<unknown>): Promise<void> {
    const wanted = process.env.SERE_CHECK_GPU_STAGES?.split(",").map((s) => s.trim());
    if (wanted && !wanted.includes(name.split(" ")[0]!)) return;
    const timeoutMs = Math.min(limitSeconds * 1000, this.remainingMs());
    const record: StageRecord = { name, ok: false, seconds: 0, limitSeconds: Math.round(timeoutMs / 1000) };
    process.stderr.write(`check-gpu: ${name} (limit ${record.limitSeconds} s)\n`);
    const started = Date.now();
    if (timeoutMs < 5000) {
      record.error = `not run: the check's ${TOTAL_SECONDS} s were spent`;
    } else {
      try {
        record.result = await body(timeoutMs);
        record.ok = true;
      } catch (err) {
        record.error = (err as Error).message;
        if (err instanceof PartialFailure) record.result = err.partial;
      }
    }
    record.seconds = (Date.now() - started) / 1000;
    process.stderr.write(`check-gpu: ${name}: ${record.ok ? "ok" : `FAILED: ${record.error!.split("\n")[0]}`} (${record.seconds.toFixed(1)} s)\n`);
    this.stages.push(record);
    this.write();
  }

  write(): void {
    const report = {
      device: this.plan.device,
      rehearsal: this.plan.device === "cpu",
      ok: this.stages.every((s) => s.ok),
      seconds: (Date.now() - this.started) / 1000,
      limitSeconds: TOTAL_SECONDS,
      cores: availableParallelism(),
      node: process.version,
      stages: this.stages,
    };
    writeFileSync(this.outPath, `${JSON.stringify(report, null, 2)}\n`);
  }
}

// ---- The stages --------------------------------------------------------------------------------

const PYTHON = process.env.SERE_BENCH_PYTHON ?? "python3";
const CUDA_ADDON_DIR = join(ROOT, "build", "cuda");

async function pythonPrints(code: string, timeoutMs: number): Promise<string> {
  return (await runCommand(PYTHON, ["-c", code], timeoutMs)).stdout.trim().split("\n").pop() ?? "";
}

/** The addon against the CUDA PyTorch's LibTorch, in build/cuda (ninja where there is one, all cores). */
async function build(plan: Plan, timeoutMs: number): Promise<object> {
  if (!plan.compile) {
    const { stdout } = await runCommand(process.execPath, ["scripts/libtorch.mjs", "cmake-dir"], timeoutMs);
    return { torchDir: stdout.trim(), compiled: false, addon: process.env.SERE_TORCH_ADDON ?? "build/Release/sere_torch.node" };
  }
  const torchDir = await pythonPrints("import torch.utils, os; print(os.path.join(torch.utils.cmake_prefix_path, 'Torch'))", 60_000);
  const torch = await pythonPrints("import torch; print(torch.__version__, torch.version.cuda)", 60_000);
  const env: NodeJS.ProcessEnv = { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: String(availableParallelism()) };
  // pip's ninja package carries the binary; cmake-js takes Ninja whenever `ninja` is on PATH.
  const ninjaDir = await pythonPrints("import ninja; print(ninja.BIN_DIR)", 30_000).catch(() => undefined);
  if (ninjaDir) env.PATH = `${ninjaDir}:${env.PATH ?? ""}`;
  const generator = await runCommand("ninja", ["--version"], 10_000, env).then(
    () => "Ninja",
    () => "Unix Makefiles",
  );
  const cudnn = await pipCudnn();
  const cudnnFlags = cudnn ? [`--CDCUDNN_INCLUDE_PATH=${cudnn.include}`, `--CDCUDNN_LIBRARY_PATH=${cudnn.library}`] : [];
  mkdirSync(CUDA_ADDON_DIR, { recursive: true });
  await runCommand(
    process.execPath,
    ["scripts/build-native.mjs", `--CDTorch_DIR=${torchDir}`, ...cudnnFlags, "--out", CUDA_ADDON_DIR],
    timeoutMs,
    env,
    true,
  );
  // Every later stage and its processes load this addon.
  process.env.SERE_TORCH_ADDON = join(CUDA_ADDON_DIR, "Release", "sere_torch.node");
  return { torchDir, pythonTorch: torch, generator, cudnn: cudnn ?? null, cores: availableParallelism(), addon: process.env.SERE_TORCH_ADDON };
}

/**
 * pip's cuDNN (the nvidia-cudnn package beside a CUDA PyTorch), which TorchConfig's cuDNN
 * check does not look for inside Python packages: without it, find_package(Torch) stops
 * ("uses cuDNN but I cannot find the cuDNN libraries"). Undefined where there is none.
 */
async function pipCudnn(): Promise<{ include: string; library: string } | undefined> {
  const code = [
    "import glob, os, nvidia.cudnn as m",
    "d = list(m.__path__)[0]",
    "libs = sorted(glob.glob(os.path.join(d, 'lib', 'libcudnn.so*')))",
    "print(os.path.join(d, 'include') + '|' + libs[0] if libs and os.path.isdir(os.path.join(d, 'include')) else '')",
  ].join("\n");
  const line = await pythonPrints(code, 30_000).catch(() => "");
  const [include, library] = line.split("|");
  return include && library ? { include, library } : undefined;
}

/** The CUDA devices info() saw (0 until the info stage ran). */
let cudaDeviceCount = 0;

async function reportInfo(plan: Plan, timeoutMs: number): Promise<object> {
  const code = "import { info } from './src/runtime.ts'; console.log(JSON.stringify(info()))";
  const { stdout } = await runCommand(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], timeoutMs);
  const info = JSON.parse(stdout.trim().split("\n").pop()!) as { build: { cuda: boolean }; cuda: { available: boolean; deviceCount: number } };
  process.stdout.write(`info(): ${JSON.stringify(info, null, 2)}\n`);
  cudaDeviceCount = info.cuda.deviceCount;
  if (plan.device === "cuda" && !(info.build.cuda && info.cuda.available)) {
    throw new PartialFailure(
      info.build.cuda
        ? "the addon was built with CUDA but sees no CUDA device (driver? CUDA_VISIBLE_DEVICES?)"
        : "the addon was built against a LibTorch without CUDA",
      info,
    );
  }
  return info;
}

interface VitestReport {
  testResults: Array<{ name: string; assertionResults: Array<{ fullName: string; status: string; failureMessages: string[] }> }>;
}

/** The device variants of the numeric tests ("on cuda" / "on cpu" in their names). */
async function deviceTests(plan: Plan, timeoutMs: number): Promise<object> {
  const files = (process.env.SERE_CHECK_GPU_TESTS ?? deviceTestFiles().join(" ")).split(/\s+/).filter((f) => f !== "");
  const dir = mkdtempSync(join(tmpdir(), "sere-check-gpu-tests-"));
  const reportPath = join(dir, "vitest.json");
  const vitest = join(ROOT, "node_modules", "vitest", "vitest.mjs");
  const args = [vitest, "run", ...files, "-t", `on ${plan.device}`, "--reporter=json", `--outputFile=${reportPath}`];
  // A clean environment for vitest, also when this check itself runs under vitest (its test).
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("VITEST")));
  const finished = await runCommand(process.execPath, args, timeoutMs, env).then(
    () => undefined,
    (err: Error) => err,
  );
  let report: VitestReport;
  try {
    report = JSON.parse(readFileSync(reportPath, "utf8")) as VitestReport;
  } catch {
    throw finished ?? new Error("vitest wrote no report");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // vitest lists the tests its name filter left out as skipped too: only this device's variants count.
  const tests = report.testResults
    .flatMap((f) => f.assertionResults.map((a) => ({ ...a, file: f.name.replace(`${ROOT}/`, "") })))
    .filter((t) => t.fullName.includes(`on ${plan.device}`));
  const named = (status: string) => tests.filter((t) => t.status === status).map((t) => `${t.file}: ${t.fullName}`);
  const summary = {
    files,
    passed: tests.filter((t) => t.status === "passed").length,
    failed: tests
      .filter((t) => t.status === "failed")
      .map((t) => ({ test: `${t.file}: ${t.fullName}`, error: t.failureMessages.join("\n").slice(0, 1500) })),
    skipped: [...named("skipped"), ...named("pending"), ...named("todo")],
  };
  if (summary.failed.length > 0) throw new PartialFailure(`${summary.failed.length} test(s) failed on ${plan.device}`, summary);
  if (summary.passed === 0) throw new PartialFailure(`no test ran on ${plan.device}`, summary);
  // With a GPU, every device variant runs: a skipped one is a requirement the machine lacks.
  // (Tests named "[N GPU(s)]" need N devices: on a machine with fewer they are listed, not failed.)
  const needsMoreGpus = (name: string) => Number(/\[(\d+) GPU\(s\)\]/.exec(name)?.[1] ?? 0) > cudaDeviceCount;
  const missingGpus = summary.skipped.filter(needsMoreGpus);
  const skipped = summary.skipped.filter((name) => !needsMoreGpus(name));
  if (plan.device === "cuda" && skipped.length > 0) throw new PartialFailure(`${skipped.length} test(s) skipped with a GPU at hand`, summary);
  if (missingGpus.length > 0) Object.assign(summary, { needMoreGpus: missingGpus });
  if (finished) throw new PartialFailure(finished.message, summary);
  return summary;
}

/** One side of a step case: its timings and memory, or its error. */
function sideSummary(times: StepTimes, batch: number) {
  return {
    secondsPerStep: times.secondsPerStep.median,
    imagesPerSecond: batch / times.secondsPerStep.median,
    peakMiB: times.cudaPeakMiB ?? null,
    peakRssMiB: times.peakRssMiB,
    firstLoss: times.losses[0]?.total,
    lastLoss: times.losses.at(-1)?.total,
  };
}

/** The project's step and the eager PyTorch step on one case: images/s, peak memory, ratios. */
async function stepCase(plan: Plan, overrides: TrainConfigInput, timeoutMs: number): Promise<object> {
  const config = resolveTrainConfig({ preset: "vit-small-imagenet", overrides });
  const s: StepCase = stepCaseOf("vit-small-imagenet", config, { threads: availableParallelism(), ...plan.stepRun });
  const sideLimit = Math.floor(timeoutMs / 2);
  const [native, eager] = [await runNativeStep(s, sideLimit).then(ok, failed), await runEagerStep(s, sideLimit).then(ok, failed)];
  const result = {
    batch: s.batch,
    precision: s.precision,
    device: s.device,
    stepsPerProcess: plan.stepRun,
    native: native.ok ? sideSummary(native.value, s.batch) : { error: native.error },
    eager: eager.ok ? sideSummary(eager.value, s.batch) : { error: eager.error },
    // Above 1: the project is faster / uses more memory than eager PyTorch.
    speedRatio: native.ok && eager.ok ? eager.value.secondsPerStep.median / native.value.secondsPerStep.median : null,
    memoryRatio:
      native.ok && eager.ok && native.value.cudaPeakMiB && eager.value.cudaPeakMiB ? native.value.cudaPeakMiB / eager.value.cudaPeakMiB : null,
  };
  const errors = [native, eager].flatMap((side, i) => (side.ok ? [] : [`${i === 0 ? "native" : "eager"}: ${side.error}`]));
  if (errors.length > 0) throw new PartialFailure(errors.join("\n"), result);
  return result;
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: string };
const ok = <T>(value: T): Settled<T> => ({ ok: true, value });
const failed = (err: Error): Settled<never> => ({ ok: false, error: err.message });

/**
 * The training loader's throughput on the device, as bench/data.ts measures it: ImageNet-sized
 * JPEGs decoded, their views planned and rendered (2 x 224 + 10 x 96) at the step's batch.
 */
async function dataThroughput(plan: Plan, timeoutMs: number): Promise<object> {
  const { batch, images, photos } = plan.data;
  const code = [
    "import { rmSync } from 'node:fs';",
    "import { dirname } from 'node:path';",
    "import { loaderThroughput, photoFolder } from './bench/data.ts';",
    "import { setThreads } from './src/index.ts';",
    `setThreads(${availableParallelism()});`,
    `const { folder } = await photoFolder(${photos});`,
    "try {",
    `  console.log(JSON.stringify(await loaderThroughput(folder, ${batch}, ${images}, "${plan.device}")));`,
    "} finally {",
    "  rmSync(dirname(folder), { recursive: true, force: true });",
    "}",
  ].join("\n");
  const { stdout } = await runCommand(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], timeoutMs);
  return { photos, ...(JSON.parse(stdout.trim().split("\n").pop()!) as object) };
}

/** An image folder of `count` JPEGs in 4 classes: smooth colour fields with a class-dependent stripe. */
async function generateImages(dir: string, count: number, side: number): Promise<void> {
  const classes = 4;
  for (let c = 0; c < classes; c++) mkdirSync(join(dir, `class${c}`), { recursive: true });
  const writes: Array<Promise<unknown>> = [];
  for (let i = 0; i < count; i++) {
    const c = i % classes;
    const pixels = Buffer.alloc(side * side * 3);
    const [r, g, b] = [(i * 37) % 256, (i * 91) % 256, (i * 53) % 256];
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const stripe = Math.floor((c % 2 === 0 ? x : y) / (4 + 2 * c)) % 2 === 0 ? 60 : 0;
        const at = 3 * (y * side + x);
        pixels[at] = (r + x + stripe) % 256;
        pixels[at + 1] = (g + y + stripe) % 256;
        pixels[at + 2] = (b + ((x + y) >> 1)) % 256;
      }
    }
    writes.push(
      sharp(pixels, { raw: { width: side, height: side, channels: 3 } })
        .jpeg({ quality: 90 })
        .toFile(join(dir, `class${c}`, `${i}.jpg`)),
    );
    if (writes.length >= 64) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Training steps of vit-small-imagenet on generated images: does the loss fall, does the step wait for data? */
async function train(plan: Plan, timeoutMs: number): Promise<object> {
  const dir = mkdtempSync(join(tmpdir(), "sere-check-gpu-train-"));
  try {
    const started = Date.now();
    await generateImages(join(dir, "images"), plan.train.images, plan.train.side);
    const generateSeconds = (Date.now() - started) / 1000;
    const out = join(dir, "run");
    const args = [
      "--import",
      "tsx",
      "src/cli/sere-train.ts",
      "--preset",
      "vit-small-imagenet",
      "--data-path",
      join(dir, "images"),
      "--output-dir",
      out,
    ];
    args.push("--max-steps", String(plan.train.steps), "--log-every", "1", "--tensorboard", "false", ...plan.train.flags);
    await runCommand(process.execPath, args, timeoutMs - (Date.now() - started));
    const log = readFileSync(join(out, "log.jsonl"), "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as Record<string, number>)
      .filter((r) => typeof r.total === "number" && typeof r.iteration === "number");
    if (log.length === 0) throw new Error(`the run logged no steps (${join(out, "log.jsonl")})`);
    const losses = log.map((r) => r.total!);
    const window = Math.max(1, Math.min(5, Math.floor(losses.length / 2)));
    const timed = log.slice(Math.min(2, log.length - 1)); // past the first steps' start-up
    const result = {
      steps: log.length,
      images: plan.train.images,
      generateSeconds,
      firstLoss: losses[0],
      lastLoss: losses.at(-1),
      lossFalls: mean(losses.slice(-window)) < mean(losses.slice(0, window)),
      losses,
      imagesPerSecond: median(timed.map((r) => r.imagesPerSecond!)),
      dataSeconds: median(timed.map((r) => r.dataSeconds!)),
      stepSeconds: median(timed.map((r) => r.stepSeconds!)),
      // The loader prefetches: the step waits for data when fetching the next batch takes a tenth of a step or more.
      waitsForData: median(timed.map((r) => r.dataSeconds!)) > 0.1 * median(timed.map((r) => r.stepSeconds!)),
      peakMiB: Math.max(...log.map((r) => r.cudaPeakMiB ?? 0)) || null,
      skippedSteps: log.filter((r) => (r as unknown as { skipped?: boolean }).skipped === true).length,
    };
    if (losses.some((l) => !Number.isFinite(l))) throw new PartialFailure("a loss is not finite", result);
    if (!result.lossFalls) throw new PartialFailure(`the loss did not fall over ${log.length} steps`, result);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- Main ---------------------------------------------------------------------------------------

export async function checkGpu(outPath: string, device: Device): Promise<boolean> {
  const plan = planFor(device);
  // The eager side runs on the PyTorch the addon is built against, not Debian's /usr/bin/python3.
  if (device === "cuda") process.env.SERE_BENCH_PYTHON ??= PYTHON;
  const check = new Check(plan, outPath);
  check.write();
  await check.stage("build", 300, (t) => build(plan, t));
  await check.stage("info", 60, (t) => reportInfo(plan, t));
  await check.stage("tests", 150, (t) => deviceTests(plan, t));
  for (const c of plan.stepCases) await check.stage(`step ${c.name}`, 80, (t) => stepCase(plan, c.overrides, t));
  await check.stage(`data b${plan.data.batch}`, 60, (t) => dataThroughput(plan, t));
  await check.stage(`train ${plan.train.steps} steps`, 150, (t) => train(plan, t));
  check.write();
  return check.stages.every((s) => s.ok);
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const outPath = process.argv[2];
  const device = process.env.SERE_CHECK_GPU_DEVICE ?? "cuda";
  if (outPath === undefined || outPath.startsWith("-") || (device !== "cuda" && device !== "cpu")) {
    process.stderr.write("usage: scripts/check-gpu.sh OUT.json   (SERE_CHECK_GPU_DEVICE=cpu: the same stages on the CPU, tiny sizes)\n");
    process.exit(2);
  }
  const allOk = await checkGpu(resolve(outPath), device);
  process.stderr.write(`check-gpu: ${allOk ? "every stage passed" : "some stages failed"}; the results are in ${outPath}\n`);
  process.exit(allOk ? 0 : 1);
}
