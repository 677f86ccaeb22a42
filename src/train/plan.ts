// What a run is about to do, said once before its first step, and how far it got, said after
// its last: a run's speed (and so, under a time limit, its result) depends on the machine, and
// a user should see which case they are in without reading config.json.
import type { TrainConfig } from "../config/train.js";
import { stepPrecision } from "./step-options.js";

/** The run as the trainer starts it (the `start` event). */
export interface RunPlan {
  /** Images in the training split, and where they come from. */
  images: number;
  dataPath: string;
  /** Images per step over all ranks, and the ranks. */
  batchSize: number;
  worldSize: number;
  stepsPerEpoch: number;
  epochs: number;
  /** The step training ends at without a time limit: the epochs' steps, or --max-steps when sooner. */
  lastStep: number;
  /** Steps already done (a resumed run). */
  startStep: number;
  /** 0: none. */
  maxMinutes: number;
  device: string;
  threads: number;
  precision: "float32" | "bfloat16" | "float16";
  /** Why `precision: auto` took float32 on this CPU; absent otherwise. */
  precisionNote?: string;
}

/** The step training ends at without a time limit: the epochs' steps, or --max-steps when sooner. */
export function lastStepOf(c: Pick<TrainConfig, "epochs" | "maxSteps">, stepsPerEpoch: number): number {
  const planned = c.epochs * stepsPerEpoch;
  return c.maxSteps > 0 ? Math.min(c.maxSteps, planned) : planned;
}

export function runPlan(
  c: TrainConfig,
  at: { images: number; stepsPerEpoch: number; worldSize: number; device: string; threads: number; startStep: number },
  /** Whether the CPU computes bfloat16 natively; default: its flags (stepPrecision's rule). */
  nativeBfloat16?: boolean,
): RunPlan {
  const precision = stepPrecision({ precision: c.precision, device: at.device }, nativeBfloat16);
  const autoTookFloat32 = c.precision === "auto" && precision === "float32";
  return {
    images: at.images,
    dataPath: c.dataPath,
    batchSize: c.batchSizePerGpu * at.worldSize,
    worldSize: at.worldSize,
    stepsPerEpoch: at.stepsPerEpoch,
    epochs: c.epochs,
    lastStep: lastStepOf(c, at.stepsPerEpoch),
    startStep: at.startStep,
    maxMinutes: c.maxMinutes,
    device: at.device,
    threads: at.threads,
    precision,
    ...(autoTookFloat32
      ? {
          precisionNote: "this CPU has no native bfloat16 (AVX-512 BF16 or AMX): the step runs in float32, slower than bfloat16 on CPUs that have it",
        }
      : {}),
  };
}

/** A count as the run's lines write it: 11,244. */
export const count = (n: number) => n.toLocaleString("en-US");

/** A count and its noun, singular for one: "1 step", "11,244 steps". */
export const countOf = (n: number, noun: string) => `${count(n)} ${noun}${n === 1 ? "" : "s"}`;
/** Passes over the data to one decimal, or to two significant digits below a tenth. */
const passes = (steps: number, perEpoch: number) => {
  const n = steps / perEpoch;
  return n > 0 && n < 0.1 ? String(Number(n.toPrecision(2))) : n.toFixed(1);
};

/** The line printed before the first step. */
export function describePlan(p: RunPlan): string {
  const ranks = p.worldSize > 1 ? ` over ${p.worldSize} ranks` : "";
  const end = `${describeSpan(p.startStep, p.lastStep)} (${passes(p.lastStep, p.stepsPerEpoch)} passes)`;
  const limit = p.maxMinutes > 0 ? ` or for ${p.maxMinutes} minute${p.maxMinutes === 1 ? "" : "s"}, whichever ends first` : "";
  const note = p.precisionNote ? `\n  ${p.precisionNote}` : "";
  return `training on ${count(p.images)} images of ${p.dataPath} in batches of ${p.batchSize}${ranks}: ${end}${limit}; ${describeCompute(p)}${note}`;
}

/** The steps a run makes: "to step 11,244", or "from step 3 to step 8" when resumed. */
export function describeSpan(startStep: number, lastStep: number): string {
  return `${startStep > 0 ? `from step ${count(startStep)} ` : ""}to step ${count(lastStep)}`;
}

/** Where a step runs and at what precision: "cpu, 2 threads, float32" or "cuda:0, bfloat16". */
export function describeCompute(p: Pick<RunPlan, "device" | "threads" | "precision">): string {
  return `${p.device}${p.device === "cpu" ? `, ${p.threads} thread${p.threads === 1 ? "" : "s"}` : ""}, ${p.precision}`;
}

/** How far a run that stopped early got, in passes over the data: "2.0 of 12 passes". */
export function describeProgress(iterations: number, p: Pick<RunPlan, "stepsPerEpoch" | "epochs">): string {
  return `${passes(iterations, p.stepsPerEpoch)} of ${p.epochs} passes`;
}

/**
 * Where the time limit will end the run at the pace measured so far, said once that pace is
 * known (the CLI waits for PACE_SECONDS of steps), and only when the limit will end the run
 * before its last step: a slow machine shows itself in the run's first minute, not its last.
 */
export function describePace(
  p: Pick<RunPlan, "maxMinutes" | "lastStep" | "startStep" | "stepsPerEpoch" | "epochs">,
  at: { iteration: number; trainingSeconds: number; secondsPerStep: number },
): string | undefined {
  if (p.maxMinutes <= 0 || !(at.secondsPerStep > 0)) return undefined;
  const secondsLeft = p.maxMinutes * 60 - at.trainingSeconds;
  const end = at.iteration + Math.max(0, Math.floor(secondsLeft / at.secondsPerStep));
  if (end >= p.lastStep) return undefined;
  const near = Math.max(at.iteration, Number(end.toPrecision(2)));
  const allMinutes = Math.ceil(((p.lastStep - at.iteration) * at.secondsPerStep + at.trainingSeconds) / 60);
  return (
    `at ${at.secondsPerStep.toFixed(2)} s a step the ${p.maxMinutes}-minute limit will end this run near step ${count(near)} ` +
    `(${passes(near, p.stepsPerEpoch)} of ${p.epochs} passes); reaching step ${count(p.lastStep)} would take about ${allMinutes} minutes (--max-minutes 0)`
  );
}

/** Seconds of steps after the first before the pace is said: enough to average out the first steps' warm-up. */
export const PACE_SECONDS = 20;
