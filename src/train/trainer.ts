// Trainer: runs SERE pretraining from a configuration. TypeScript keeps the loop's
// bookkeeping (schedules, logging, checkpoints, events); each iteration is one native call.
import { EventEmitter } from "node:events";
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";

import { type ConfigSources, resolveTrainConfig } from "../config/resolve.js";
import type { TrainConfig, TrainConfigInput } from "../config/train.js";
import { Loader, type LoaderState, openDataset } from "../data/index.js";
import { native } from "../native/load.js";
import type { NativeSereStep, NativeStepResult, NativeStepSchedule } from "../native/surface.js";
import { setThreads } from "../runtime.js";
import { clsFeatures } from "../eval/features.js";
import type { KnnAccuracy } from "../eval/knn.js";
import { knnEvaluation } from "../eval/knn-eval.js";
import { loadBackbone } from "./backbone.js";
import { disposeCheckpoint, readTrainingCheckpoint } from "./checkpoint.js";
import { ProgressReporter } from "./progress.js";
import { learningRateAt, teacherMomentumAt, teacherTemperatureAt, weightDecayAt } from "./schedules.js";
import { stepOptionsFrom } from "./step-options.js";

/** What one iteration reports (also one line of log.jsonl). */
export interface StepEvent extends Omit<NativeStepResult, "stepped">, Omit<NativeStepSchedule, "freezeLastLayer"> {
  epoch: number;
  iteration: number;
  /** Iterations in one epoch (of this rank). */
  iterationsPerEpoch: number;
  imagesPerSecond: number;
  /** Images that could not be decoded so far. */
  skippedImages: number;
  rssMiB: number;
}

export interface EpochEvent {
  epoch: number;
  iteration: number;
  checkpoint: string;
  meanLoss: number;
}

export interface FitResult {
  config: TrainConfig;
  /** With knnEval: the teacher's weighted k-NN accuracy on the dataset's test split. */
  knn?: KnnAccuracy[];
  /** Iterations run in total (resumed runs count the earlier ones). */
  iterations: number;
  /** Epochs completed. */
  epochs: number;
  lastCheckpoint: string | undefined;
  stoppedBy: "done" | "maxSteps" | "abort";
}

export interface TrainerOptions extends Omit<ConfigSources, "overrides"> {
  /** Continue from outputDir/checkpoint.pth when it exists. */
  resume?: boolean;
  /** Stops the run at the next iteration; a checkpoint is written first. */
  signal?: AbortSignal;
  /** Progress on stderr: a bar on a terminal, lines otherwise. Default true. */
  progress?: boolean;
}

type Events = { step: [StepEvent]; epoch: [EpochEvent]; evaluation: [KnnAccuracy[]]; warning: [string] };

const CHECKPOINT = "checkpoint.pth";

export class Trainer extends EventEmitter<Events> {
  readonly config: TrainConfig;
  private readonly options: TrainerOptions;

  /** `config` holds fields over the preset (default fashion-mnist-tiny) and config file. */
  constructor(config: TrainConfigInput = {}, options: TrainerOptions = {}) {
    super();
    this.config = resolveTrainConfig({ preset: options.preset, configFile: options.configFile, overrides: config });
    this.options = options;
  }

  async fit(): Promise<FitResult> {
    const c = this.config;
    setThreads(c.threads > 0 ? c.threads : availableParallelism());
    const outputDir = resolve(c.outputDir);
    mkdirSync(outputDir, { recursive: true });
    writeFileSync(join(outputDir, "config.json"), `${JSON.stringify(c, null, 2)}\n`);

    const dataset = openDataset(c.dataPath, { split: "train" });
    const loader = new Loader(
      dataset,
      {
        batchSize: c.batchSizePerGpu,
        seed: c.seed,
        device: c.device,
        maxFailureShare: c.maxFailureShare,
        views: {
          globalSize: c.globalCropsSize,
          globalScale: c.globalCropsScale,
          localCount: c.localCropsNumber,
          localSize: c.localCropsSize,
          localScale: c.localCropsScale,
          patchSize: c.patchSize,
          maskRatio: [...c.predRatio],
          maskRatioVar: [...c.predRatioVar],
        },
      },
      { warn: (message) => this.warn(message) },
    );
    const perEpoch = loader.batchesPerEpoch();
    const step = new (native().SereStep)(stepOptionsFrom(c));
    try {
      let iteration = 0;
      let epoch = 0;
      const checkpointPath = join(outputDir, CHECKPOINT);
      if (this.options.resume && existsSync(checkpointPath)) {
        ({ iteration, epoch } = await this.restore(step, loader, checkpointPath));
      }
      const result = await this.loop(step, loader, { epoch, iteration, perEpoch, outputDir });
      if (c.knnEval && result.stoppedBy !== "abort" && result.lastCheckpoint && dataset.classes.length > 0) {
        result.knn = await this.evaluate(result.lastCheckpoint, join(outputDir, "log.jsonl"));
      }
      return result;
    } finally {
      step.dispose();
    }
  }

  /** The teacher's weighted k-NN accuracy (k = 10, 20, 100, 200), logged and emitted. */
  private async evaluate(checkpoint: string, log: string): Promise<KnnAccuracy[]> {
    const c = this.config;
    const model = await loadBackbone(c, checkpoint);
    try {
      if (this.options.progress ?? true) process.stderr.write("k-NN evaluation of the teacher...\n");
      const limit = c.knnEvalLimit > 0 ? c.knnEvalLimit : undefined;
      const knn = await knnEvaluation(c.dataPath, clsFeatures(model), {
        size: c.globalCropsSize,
        device: c.device,
        ks: [10, 20, 100, 200].filter((k) => limit === undefined || k <= limit),
        trainLimit: limit,
        testLimit: limit,
      });
      writeFileSync(log, `${JSON.stringify({ knn })}\n`, { flag: "a" });
      this.emit("evaluation", knn);
      return knn;
    } finally {
      model.dispose();
    }
  }

  private async loop(
    step: NativeSereStep,
    loader: Loader,
    at: { epoch: number; iteration: number; perEpoch: number; outputDir: string },
  ): Promise<FitResult> {
    const c = this.config;
    const progress = new ProgressReporter(this.options.progress ?? true, c.epochs * at.perEpoch, c.logEvery);
    const log = join(at.outputDir, "log.jsonl");
    let { iteration } = at;
    let lastCheckpoint: string | undefined;
    const save = async (epoch: number, state: LoaderState) => {
      const path = join(at.outputDir, CHECKPOINT);
      await step.save(path, { epoch, step: iteration, config: JSON.stringify(c), loader: JSON.stringify(state) });
      lastCheckpoint = path;
      return path;
    };
    for (let epoch = at.epoch; epoch < c.epochs; epoch++) {
      let lossSum = 0;
      let losses = 0;
      let started = performance.now();
      for await (const batch of loader.epoch(epoch)) {
        const schedule = this.scheduleAt(iteration, epoch, at.perEpoch);
        let result: NativeStepResult;
        try {
          result = await step.run(
            {
              globalViews: batch.global,
              localViews: batch.local ?? undefined,
              masks: batch.masks,
              globalRecords: batch.globalRecords,
              localRecords: batch.localRecords ?? undefined,
            },
            schedule,
          );
        } finally {
          batch.dispose();
        }
        iteration++;
        const now = performance.now();
        const event: StepEvent = {
          epoch,
          iteration,
          iterationsPerEpoch: at.perEpoch,
          ...result,
          lr: schedule.lr,
          weightDecay: schedule.weightDecay,
          momentum: schedule.momentum,
          teacherTemp: schedule.teacherTemp,
          teacherPatchTemp: schedule.teacherPatchTemp,
          imagesPerSecond: (batch.images * 1000) / (now - started),
          skippedImages: loader.metrics.skipped,
          rssMiB: process.memoryUsage().rss / 2 ** 20,
        };
        started = now;
        lossSum += result.total;
        losses++;
        writeFileSync(log, `${JSON.stringify(event)}\n`, { flag: "a" });
        progress.step(event);
        this.emit("step", event);
        const reason = c.maxSteps > 0 && iteration >= c.maxSteps ? "maxSteps" : this.options.signal?.aborted ? "abort" : undefined;
        if (reason) {
          await save(epoch, loader.state());
          progress.done();
          return { config: c, iterations: iteration, epochs: epoch, lastCheckpoint, stoppedBy: reason };
        }
      }
      const path = await save(epoch + 1, { ...loader.state(), epoch: epoch + 1, batch: 0 });
      if (c.saveckpFreq > 0 && (epoch + 1) % c.saveckpFreq === 0) {
        copyFileSync(path, join(at.outputDir, `checkpoint${String(epoch + 1).padStart(4, "0")}.pth`));
      }
      this.emit("epoch", { epoch, iteration, checkpoint: path, meanLoss: lossSum / Math.max(1, losses) });
    }
    progress.done();
    return { config: c, iterations: iteration, epochs: c.epochs, lastCheckpoint, stoppedBy: "done" };
  }

  /** The schedule values of spec sections 4-6 at this iteration. */
  private scheduleAt(iteration: number, epoch: number, iterationsPerEpoch: number): NativeStepSchedule {
    const c = this.config;
    const timing = { epochs: c.epochs, iterationsPerEpoch };
    return {
      lr: learningRateAt(iteration, { ...timing, lr: c.lr, minLr: c.minLr, globalBatchSize: c.batchSizePerGpu * c.accumIter, warmupEpochs: c.warmupEpochs }),
      weightDecay: weightDecayAt(iteration, { ...timing, weightDecay: c.weightDecay, weightDecayEnd: c.weightDecayEnd }),
      momentum: teacherMomentumAt(iteration, { ...timing, momentumTeacher: c.momentumTeacher }),
      teacherTemp: teacherTemperatureAt(epoch, { warmup: c.warmupTeacherTemp, final: c.teacherTemp, warmupEpochs: c.warmupTeacherTempEpochs }),
      teacherPatchTemp: teacherTemperatureAt(epoch, {
        warmup: c.warmupTeacherPatchTemp,
        final: c.teacherPatchTemp,
        warmupEpochs: c.warmupTeacherTempEpochs,
      }),
      freezeLastLayer: epoch < c.freezeLastLayer,
    };
  }

  private async restore(step: NativeSereStep, loader: Loader, path: string): Promise<{ iteration: number; epoch: number }> {
    const checkpoint = await readTrainingCheckpoint(path);
    try {
      step.restore(checkpoint.state);
      const loaderState = JSON.parse(String(checkpoint.extra.get("loader"))) as LoaderState;
      loader.restore(loaderState);
      return { iteration: Number(checkpoint.extra.get("step")), epoch: loaderState.epoch };
    } catch (err) {
      throw new Error(`cannot resume from ${path}: ${(err as Error).message}. Start a new run with another --output-dir, or without --resume.`);
    } finally {
      disposeCheckpoint(checkpoint);
    }
  }

  private warn(message: string): void {
    if (this.listenerCount("warning") > 0) this.emit("warning", message);
    else process.emitWarning(message, "DataWarning");
  }
}
