// Training: the project's full SERE step (teacher and student forwards, objective, backward,
// clipping, AdamW, EMA) against an eager PyTorch step of the same math (bench/eager_step.py,
// Debian's python3-torch), side by side on one configuration, and the default preset at 1
// and 2 threads (and at 2 with SERE_TORCH_BLAS_GEMM=1: its float products on BLAS). Every
// measurement is its own process (bench/native-step.ts, eager_step.py), the sides
// alternating round by round, so that each peak RSS is that step's alone and a slow spell of
// the machine falls on all of them. Synthetic views; the same batch every step.
//
//   npm run bench -- train
//   SERE_BENCH_ROUNDS=1 SERE_BENCH_WARMUP=1 SERE_BENCH_STEPS=2 npm run bench -- train   (quick)
//   SERE_BENCH_CASES=K512,fashion-mnist-tiny npm run bench -- train   (cases whose names contain one)
//
// Per case: seconds per step of each side (median over all timed steps of all rounds, min,
// max, per-round medians), speed ratio eager / native (above 1: the project is faster),
// peak RSS of each side (the largest over its processes) and memory ratio native / eager.
//
// Run it on an otherwise idle machine. With 2 threads on 2 cores, other work makes every
// parallel op wait at OpenMP's barriers (a 150k-element multiply: 0.02 ms alone, 1-8 ms beside
// a compiler), which costs the eager step, with its many small ops, far more than the
// project's: each case reports the load average before and after it.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

import { resolveTrainConfig } from "../src/config/resolve.js";
import type { TrainConfig, TrainConfigInput } from "../src/config/train.js";
import { info, tensor } from "../src/index.js";
import { modelOptionsSchema } from "../src/model/options.js";
import { chooseNativeLibrarySettings } from "../src/native/cpu.js";
import { native } from "../src/native/load.js";
import { architectureOf } from "../src/train/backbone.js";
import { stepPrecision } from "../src/train/step-options.js";

export function syntheticBatch(B: number, global: number, local: number, locals: number, patch: number) {
  const views = (n: number, s: number) =>
    tensor(
      Float32Array.from({ length: n * 3 * s * s }, () => Math.random() * 2 - 1),
      [n, 3, s, s],
    );
  const record = (v: number) => (v < 2 ? [v * 10, v * 5, 80, 80, v] : [(v * 7) % 60, (v * 11) % 60, 30, 30, v % 2]);
  const n = global / patch;
  return {
    globalViews: views(2 * B, global),
    localViews: locals > 0 ? views(locals * B, local) : undefined,
    masks: tensor(
      Uint8Array.from({ length: 2 * B * n * n }, (_, i) => (i % 7 < 2 ? 1 : 0)),
      [2 * B, n, n],
    ),
    globalRecords: tensor(Float32Array.from([0, 1].flatMap((v) => Array.from({ length: B }, () => record(v)).flat())), [2 * B, 5]),
    localRecords:
      locals > 0
        ? tensor(Float32Array.from(Array.from({ length: locals }, (_, v) => Array.from({ length: B }, () => record(v + 2)).flat()).flat()), [
            locals * B,
            5,
          ])
        : undefined,
  };
}

/**
 * One step configuration, as both bench/native-step.ts and bench/eager_step.py read it:
 * every field that shapes the step, explicit, plus the run's threads and step counts.
 */
export interface StepCase {
  /** The preset the native side starts from (fields outside the step's shape). */
  preset: string;
  embedDim: number;
  depth: number;
  numHeads: number;
  patchSize: number;
  /** A convolutional stem: the native step only (the eager step refuses it). */
  convStem: boolean;
  outDim: number;
  hiddenDim: number;
  bottleneckDim: number;
  sharedHead: boolean;
  normLastLayer: boolean;
  dropPath: number;
  globalSize: number;
  localSize: number;
  localCount: number;
  batch: number;
  overlapSize: [number, number];
  clipGrad: number;
  alpha: number;
  beta: number;
  lambda1: number;
  lambda2: number;
  studentTemp: number;
  temperaturePixel: number;
  temperatureChannel: number;
  /** float16 only on CUDA (with the loss scale). */
  precision: "float32" | "bfloat16" | "float16";
  threads: number;
  warmup: number;
  steps: number;
  /** Where both sides run: "cpu" when absent, or "cuda" / "cuda:N". */
  device?: string;
}

/** The fields of a step case, which both sides require. */
export const STEP_CASE_FIELDS = [
  "preset",
  "embedDim",
  "depth",
  "numHeads",
  "patchSize",
  "convStem",
  "outDim",
  "hiddenDim",
  "bottleneckDim",
  "sharedHead",
  "normLastLayer",
  "dropPath",
  "globalSize",
  "localSize",
  "localCount",
  "batch",
  "overlapSize",
  "clipGrad",
  "alpha",
  "beta",
  "lambda1",
  "lambda2",
  "studentTemp",
  "temperaturePixel",
  "temperatureChannel",
  "precision",
  "threads",
  "warmup",
  "steps",
] as const satisfies ReadonlyArray<keyof StepCase>;

export interface StepRun {
  threads: number;
  warmup: number;
  steps: number;
}

/** The step case of a resolved training configuration. */
export function stepCaseOf(preset: string, c: TrainConfig, run: StepRun): StepCase {
  const { embedDim, depth, numHeads } = modelOptionsSchema.parse({ ...architectureOf(c), head: false });
  // float16 needs CUDA: the configuration's own validation refuses it on the CPU.
  const precision = stepPrecision(c);
  if (c.sharedHead !== c.sharedHeadTeacher) throw new Error(`${preset}: the eager step shares the head in both networks or in neither`);
  return {
    preset,
    embedDim,
    depth,
    numHeads,
    patchSize: c.patchSize,
    convStem: c.convStem,
    outDim: c.outDim,
    hiddenDim: c.hiddenDim,
    bottleneckDim: c.bottleneckDim,
    sharedHead: c.sharedHead,
    normLastLayer: c.normLastLayer,
    dropPath: c.dropPath,
    globalSize: c.globalCropsSize,
    localSize: c.localCropsSize,
    localCount: c.localCropsNumber,
    batch: c.batchSizePerGpu,
    overlapSize: c.overlapSize,
    clipGrad: c.clipGrad,
    alpha: c.alpha,
    beta: c.beta,
    lambda1: c.lambda1,
    lambda2: c.lambda2,
    studentTemp: c.studentTemp,
    temperaturePixel: c.temperaturePixel,
    temperatureChannel: c.temperatureChannel,
    precision,
    device: c.device,
    ...run,
  };
}

/** The training configuration of a step case (its preset, with the case's fields over it). */
export function trainConfigOf(s: StepCase): TrainConfig {
  return resolveTrainConfig({
    preset: s.preset,
    overrides: {
      arch: "custom",
      embedDim: s.embedDim,
      depth: s.depth,
      numHeads: s.numHeads,
      patchSize: s.patchSize,
      convStem: s.convStem,
      outDim: s.outDim,
      hiddenDim: s.hiddenDim,
      bottleneckDim: s.bottleneckDim,
      sharedHead: s.sharedHead,
      sharedHeadTeacher: s.sharedHead,
      normLastLayer: s.normLastLayer,
      dropPath: s.dropPath,
      globalCropsSize: s.globalSize,
      localCropsSize: s.localSize,
      localCropsNumber: s.localCount,
      batchSizePerGpu: s.batch,
      overlapSize: s.overlapSize,
      clipGrad: s.clipGrad,
      alpha: s.alpha,
      beta: s.beta,
      lambda1: s.lambda1,
      lambda2: s.lambda2,
      studentTemp: s.studentTemp,
      temperaturePixel: s.temperaturePixel,
      temperatureChannel: s.temperatureChannel,
      precision: s.precision,
      threads: s.threads,
      accumIter: 1,
      device: s.device ?? "cpu",
    },
  });
}

/** Where a native step's time goes (NativeStepResult's forwardSeconds, backwardSeconds, updateSeconds). */
export interface PhaseSeconds {
  forward: number;
  backward: number;
  update: number;
}

/** What one process of either side prints. */
export interface StepTimes {
  secondsPerStep: { median: number; min: number; max: number; all: number[] };
  /** The project's step only: the median of each phase over the timed steps. */
  phaseSeconds?: PhaseSeconds;
  peakRssMiB: number;
  /** On a CUDA device: the most that tensors held at once there (MiB). */
  cudaPeakMiB?: number;
  losses: Array<Record<string, number>>;
  /** The OpenBLAS kernels that ran (null with another BLAS). */
  blasCore: string | null;
}

/** Debian's python3-torch; SERE_BENCH_PYTHON names another (a CUDA PyTorch on a GPU machine). */
const eagerPython = () => process.env.SERE_BENCH_PYTHON ?? "/usr/bin/python3";
const REPOSITORY = dirname(dirname(fileURLToPath(import.meta.url)));

/**
 * The environment of both sides: the library settings the project picks for itself
 * (OPENBLAS_CORETYPE, GOMP_SPINCOUNT; src/native/cpu.ts) serve the eager side too, so that both
 * multiply matrices with the same kernels and their OpenMP threads wait alike.
 */
export function stepEnvironment(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  chooseNativeLibrarySettings(env);
  return env;
}

/**
 * Runs one step process and reads the JSON line it prints last. `timeoutMs`: the process is
 * killed after that long (0: no limit), and the promise rejects.
 */
function runProcess(command: string, args: string[], what: string, timeoutMs = 0, env: NodeJS.ProcessEnv = {}): Promise<StepTimes> {
  const child = spawn(command, args, {
    cwd: REPOSITORY,
    env: { ...stepEnvironment(), ...env },
    stdio: ["ignore", "pipe", "pipe"],
    timeout: timeoutMs,
    killSignal: "SIGKILL",
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", (e) => reject(new Error(`${what}: cannot start ${command} (${e.message})`)));
    child.on("exit", (code, signal) => {
      const line = out.trim().split("\n").pop() ?? "";
      const ended = signal === null ? `exited with ${code}` : `was killed (${signal}${timeoutMs > 0 ? `; its limit: ${timeoutMs / 1000} s` : ""})`;
      if (code !== 0) return reject(new Error(`${what} ${ended}: ${err.trim().split("\n").slice(-20).join("\n")}`));
      try {
        resolve(JSON.parse(line) as StepTimes);
      } catch {
        reject(new Error(`${what} printed no JSON line: ${out.slice(-500)}`));
      }
    });
  });
}

/** The project's side of a bench: `script` (TypeScript, run by tsx) on the case `config`; `env` over the bench's. */
export function runNativeScript(script: string, config: object, timeoutMs = 0, env: NodeJS.ProcessEnv = {}): Promise<StepTimes> {
  return runProcess(process.execPath, ["--import", "tsx", script, "--config", JSON.stringify(config)], script, timeoutMs, env);
}

/** The eager side of a bench: `script` (Python, with eagerPython()) on the case `config`. */
export function runEagerScript(script: string, config: object, timeoutMs = 0): Promise<StepTimes> {
  return runProcess(eagerPython(), [script, "--config", JSON.stringify(config)], script, timeoutMs);
}

export function runNativeStep(s: StepCase, timeoutMs = 0, env: NodeJS.ProcessEnv = {}): Promise<StepTimes> {
  return runNativeScript("bench/native-step.ts", s, timeoutMs, env);
}

export function runEagerStep(s: StepCase, timeoutMs = 0): Promise<StepTimes> {
  return runEagerScript("bench/eager_step.py", s, timeoutMs);
}

/**
 * The case a step process is given (`--config`: a JSON object, or the path of a JSON file),
 * with every one of `fields`; on a bad or missing argument, says why on stderr (as `script`,
 * naming `writer`, what writes the cases) and exits with status 2.
 */
export function readCaseArgument<T>(script: string, fields: readonly string[], writer: string): T {
  try {
    const argv = process.argv.slice(2);
    const at = argv.indexOf("--config");
    const text = at >= 0 ? argv[at + 1] : undefined;
    if (text === undefined) throw new Error(`usage: node --import tsx ${script} --config <JSON object or JSON file>`);
    let given: Record<string, unknown>;
    try {
      given = JSON.parse(text.trimStart().startsWith("{") ? text : readFileSync(text, "utf8")) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`--config: not a JSON object or a readable JSON file (${(err as Error).message})`);
    }
    const missing = fields.filter((name) => !(name in given));
    if (missing.length > 0) throw new Error(`--config: missing fields ${missing.join(", ")} (${writer} writes them all)`);
    return given as T;
  } catch (err) {
    console.error(`${script}: ${(err as Error).message}`);
    process.exit(2);
  }
}

/**
 * What a native step process prints, as one JSON line on stdout (StepTimes): the timed steps'
 * seconds, the process's peak RSS, on CUDA the device's peak, every step's losses.
 */
export function writeStepTimes(seconds: number[], losses: Array<Record<string, number>>, device: string, phases?: PhaseSeconds[]): void {
  process.stdout.write(
    `${JSON.stringify({
      secondsPerStep: { median: median(seconds), min: Math.min(...seconds), max: Math.max(...seconds), all: seconds },
      ...(phases ? { phaseSeconds: medianPhases(phases) } : {}),
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      ...(device.startsWith("cuda") ? { cudaPeakMiB: native().cudaPeakMemory(device) / 2 ** 20 } : {}),
      losses,
      blasCore: info().blasCore,
    })}\n`,
  );
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** Each phase's median. */
const medianPhases = (phases: PhaseSeconds[]): PhaseSeconds => ({
  forward: median(phases.map((p) => p.forward)),
  backward: median(phases.map((p) => p.backward)),
  update: median(phases.map((p) => p.update)),
});

/** One side's processes summed up: all timed steps of all rounds, and the largest peak RSS. */
export function summary(runs: StepTimes[], batch: number) {
  const all = runs.flatMap((r) => r.secondsPerStep.all);
  const seconds = median(all);
  return {
    secondsPerStep: { median: seconds, min: Math.min(...all), max: Math.max(...all), roundMedians: runs.map((r) => r.secondsPerStep.median) },
    imagesPerSecond: batch / seconds,
    // each phase's median over the rounds' medians
    ...(runs[0]!.phaseSeconds ? { phaseSeconds: medianPhases(runs.map((r) => r.phaseSeconds!)) } : {}),
    peakRssMiB: Math.max(...runs.map((r) => r.peakRssMiB)),
    blasCore: runs[0]!.blasCore,
    lastLosses: runs.at(-1)!.losses.at(-1),
  };
}

/** Alternates the sides' processes, round by round: a, b, a, b, ... (progress on stderr, as `suite`). */
export async function alternate(
  name: string,
  sides: Array<[string, () => Promise<StepTimes>]>,
  rounds: number,
  suite = "train",
): Promise<StepTimes[][]> {
  const results: StepTimes[][] = sides.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (const [i, [side, runSide]] of sides.entries()) {
      const times = await runSide();
      console.error(`${suite}: ${name}, round ${r + 1}/${rounds}, ${side}: ${times.secondsPerStep.median.toFixed(3)} s per step`);
      results[i]!.push(times);
    }
  }
  return results;
}

export function envCount(name: string, fallback: number, min: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got "${text}"`);
  return n;
}

/** Rounds and steps: defaults per case, or SERE_BENCH_ROUNDS / _WARMUP / _STEPS for all of them. */
export function schedule(defaults: { rounds: number; warmup: number; steps: number }) {
  return {
    rounds: envCount("SERE_BENCH_ROUNDS", defaults.rounds, 1),
    warmup: envCount("SERE_BENCH_WARMUP", defaults.warmup, 0),
    steps: envCount("SERE_BENCH_STEPS", defaults.steps, 1),
  };
}

// The side-by-side configuration: vit_tiny/16, 2 x 224 + 10 x 96 views, batch 8, shared head,
// drop path 0, 2 threads (the rest as vit-small-imagenet: clip 0.3, alpha 0.2, beta 0.5). Its
// steps take seconds each on 2 cores: 2 rounds of 2 warm-up + 5 timed steps per side.
const VIT_TINY = (outDim: number, precision: "float32" | "bfloat16"): TrainConfigInput => ({
  arch: "vit_tiny",
  outDim,
  precision,
  dropPath: 0,
  batchSizePerGpu: 8,
  device: "cpu",
});
const SIDE_BY_SIDE = [
  { name: "vit_tiny/16 2x224+10x96 b8 K8192 fp32", overrides: VIT_TINY(8192, "float32") },
  { name: "vit_tiny/16 2x224+10x96 b8 K8192 bf16", overrides: VIT_TINY(8192, "bfloat16") },
  { name: "vit_tiny/16 2x224+10x96 b8 K512 fp32", overrides: VIT_TINY(512, "float32") },
  { name: "vit_tiny/16 2x224+10x96 b8 K512 bf16", overrides: VIT_TINY(512, "bfloat16") },
];
const SIDE_BY_SIDE_PRESET = "vit-small-imagenet";
const DEFAULT_PRESET = "fashion-mnist-tiny";

/** SERE_BENCH_CASES: comma-separated parts of case names; only the cases that contain one run. */
export function wanted(name: string): boolean {
  const parts = (process.env.SERE_BENCH_CASES ?? "").split(",").filter((p) => p.trim() !== "");
  return parts.length === 0 || parts.some((p) => name.includes(p.trim()));
}

export async function run(): Promise<object> {
  const sideBySide: Record<string, object> = {};
  const openBlasCoreType = stepEnvironment().OPENBLAS_CORETYPE ?? "OpenBLAS's own choice";
  const vitRuns = schedule({ rounds: 2, warmup: 2, steps: 5 });
  const eagerFloat32Seconds = new Map<number, number>();
  for (const c of SIDE_BY_SIDE.filter((c) => wanted(c.name))) {
    const config = resolveTrainConfig({ preset: SIDE_BY_SIDE_PRESET, overrides: c.overrides });
    const s = stepCaseOf(SIDE_BY_SIDE_PRESET, config, { threads: 2, warmup: vitRuns.warmup, steps: vitRuns.steps });
    const loadBefore = loadavg()[0]!;
    const [native, eager] = await alternate(
      c.name,
      [
        ["native", () => runNativeStep(s)],
        ["eager", () => runEagerStep(s)],
      ],
      vitRuns.rounds,
    );
    const n = summary(native!, s.batch);
    const e = summary(eager!, s.batch);
    // bf16 against the eager fp32 step too: the reference's own CPU precision.
    const eagerFloat32 = c.overrides.precision === "bfloat16" ? eagerFloat32Seconds.get(c.overrides.outDim!) : undefined;
    if (c.overrides.precision === "float32") eagerFloat32Seconds.set(c.overrides.outDim!, e.secondsPerStep.median);
    sideBySide[c.name] = {
      native: n,
      eager: e,
      speedRatio: e.secondsPerStep.median / n.secondsPerStep.median,
      ...(eagerFloat32 !== undefined ? { speedRatioAgainstEagerFloat32: eagerFloat32 / n.secondsPerStep.median } : {}),
      memoryRatio: n.peakRssMiB / e.peakRssMiB,
      rounds: vitRuns.rounds,
      stepsPerProcess: { warmup: s.warmup, timed: s.steps },
      // Other work slows the sides unequally: trust the ratios where this stayed near 2 (the bench's own threads).
      loadAverage: { before: loadBefore, after: loadavg()[0]! },
    };
  }

  if (!wanted(DEFAULT_PRESET)) return { openBlasCoreType, sideBySide };
  // The default preset, native only: does the second core pay, and what do oneDNN's products give
  // (runtime/gemm.h; SERE_TORCH_BLAS_GEMM=1 keeps them on BLAS)?
  const presetRuns = schedule({ rounds: 3, warmup: 3, steps: 5 });
  // SERE_BENCH_PRECISION (float32, bfloat16): another precision than the preset's `auto` picks here.
  const precision = process.env.SERE_BENCH_PRECISION;
  let config: TrainConfig;
  try {
    config = resolveTrainConfig({ preset: DEFAULT_PRESET, overrides: precision ? { precision: precision as TrainConfig["precision"] } : {} });
  } catch (err) {
    throw new Error(`SERE_BENCH_PRECISION=${precision}: ${(err as Error).message}`);
  }
  const cases = [1, 2].map((threads) => stepCaseOf(DEFAULT_PRESET, config, { threads, warmup: presetRuns.warmup, steps: presetRuns.steps }));
  const loadBefore = loadavg()[0]!;
  const sides: Array<[string, () => Promise<StepTimes>]> = [
    ...cases.map((s): [string, () => Promise<StepTimes>] => [`native, ${s.threads} thread(s)`, () => runNativeStep(s)]),
    ["native, 2 thread(s), BLAS products", () => runNativeStep(cases[1]!, 0, { SERE_TORCH_BLAS_GEMM: "1" })],
  ];
  const [one, two, twoBlas] = (await alternate(DEFAULT_PRESET, sides, presetRuns.rounds)).map((runs) => summary(runs, config.batchSizePerGpu));
  const defaultPreset = {
    batch: config.batchSizePerGpu,
    precision: cases[0]!.precision,
    oneThread: one,
    twoThreads: two,
    twoThreadsBlasProducts: twoBlas,
    twoThreadSpeedUp: one!.secondsPerStep.median / two!.secondsPerStep.median,
    // Which phase the second thread speeds up (the teacher's forward runs beside the student's; the backward cannot)
    twoThreadSpeedUpByPhase: {
      forward: one!.phaseSeconds!.forward / two!.phaseSeconds!.forward,
      backward: one!.phaseSeconds!.backward / two!.phaseSeconds!.backward,
      update: one!.phaseSeconds!.update / two!.phaseSeconds!.update,
    },
    oneDnnProductsSpeedUp: twoBlas!.secondsPerStep.median / two!.secondsPerStep.median,
    rounds: presetRuns.rounds,
    stepsPerProcess: { warmup: presetRuns.warmup, timed: presetRuns.steps },
    loadAverage: { before: loadBefore, after: loadavg()[0]! },
  };
  return { openBlasCoreType, sideBySide, [DEFAULT_PRESET]: defaultPreset };
}
