// Trainer: runs SERE pretraining from a configuration. TypeScript keeps the loop's
// bookkeeping (schedules, logging, checkpoints, events); each iteration is one native call.
import { EventEmitter } from "node:events";
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

import { z } from "zod";

import { abortSignalSchema, ConfigError, parseOptions, settingName } from "../config/parse.js";
import { type ConfigSources, resolveTrainConfig, runSettings } from "../config/resolve.js";
import type { TrainConfig, TrainConfigInput } from "../config/train.js";
import { photometryOf } from "../data/config.js";
import { type Dataset, DatasetError, Loader, type LoaderState, openDataset, requireLabelledSplits } from "../data/index.js";
import { clsFeatures } from "../eval/features.js";
import { dinoKsFor, type KnnAccuracy } from "../eval/knn.js";
import { knnEvaluation } from "../eval/knn-eval.js";
import { copyFileAtomically } from "../io/atomic.js";
import { makeFolder } from "../io/folders.js";
import { native } from "../native/load.js";
import type { NativeCommunicator, NativeSereStep, NativeStepResult, NativeStepSchedule } from "../native/surface.js";
import { loadBackbone } from "./backbone.js";
import { checkpointKind, runOf } from "./checkpoint.js";
import { connectRanks, type RankEnvironment, rankDevice, rankEnvironment, useThreads } from "./distributed.js";
import { countOf, lastStepOf, type RunPlan, runPlan } from "./plan.js";
import { describePretrainedStart, refuseMissingWeights, startFromPretrained } from "./pretrained.js";
import { ProgressReporter } from "./progress.js";
import { describeChangedResume, restoreTraining } from "./resume.js";
import { CHECKPOINT, checkRunFolder, cutLog, LOG, prepareRunFolder, undoFailedStart, writeRunConfig } from "./run-folder.js";
import { type RunLock, refuseFolderInUse, withRunLock } from "./run-lock.js";
import { accumulationRoundAt, learningRateAt, teacherMomentumAt, teacherTemperatureAt, weightDecayAt } from "./schedules.js";
import { stepOptionsFrom } from "./step-options.js";
import { EventFileWriter, knnScalars, stepScalars } from "./tensorboard.js";

/** What one iteration reports (also one line of log.jsonl). */
export interface StepEvent extends Omit<NativeStepResult, "stop">, Omit<NativeStepSchedule, "freezeLastLayer" | "stop"> {
  epoch: number;
  iteration: number;
  /** Iterations in one epoch (of this rank). */
  iterationsPerEpoch: number;
  imagesPerSecond: number;
  /** Images that could not be decoded so far. */
  skippedImages: number;
  /** Seconds waiting for this batch (DINO's data time), and in the step itself (not the logging). */
  dataSeconds: number;
  stepSeconds: number;
  rssMiB: number;
  /** On CUDA: the most memory tensors held at once on the device so far. */
  cudaPeakMiB?: number;
}

export interface EpochEvent {
  epoch: number;
  iteration: number;
  checkpoint: string;
  /** The mean loss of the epoch's steps this run ran; undefined when it ran none (resumed at the epoch's end). */
  meanLoss: number | undefined;
}

export interface FitResult {
  config: TrainConfig;
  /** With knnEval: the teacher's weighted k-NN accuracy on the dataset's test split; absent where the signal stopped it. */
  knn?: KnnAccuracy[];
  /** Iterations run in total (resumed runs count the earlier ones). */
  iterations: number;
  /** Epochs completed. */
  epochs: number;
  lastCheckpoint: string | undefined;
  stoppedBy: "done" | "maxSteps" | "maxMinutes" | "abort";
}

export interface TrainerOptions extends Omit<ConfigSources, "overrides"> {
  /**
   * Continue from outputDir/checkpoint.pth when it exists, with the settings the run was
   * started with (outputDir/config.json) where `config` and the config file give none.
   */
  resume?: boolean;
  /**
   * Stops the run at the next iteration; a checkpoint is written first. Already aborted when
   * `fit` is called: `fit` rejects with its reason and nothing is trained or written.
   */
  signal?: AbortSignal;
  /** Progress on stderr: a bar on a terminal, lines otherwise. Default true. */
  progress?: boolean;
}

/** TrainerOptions as checked: a misspelt option would otherwise leave the run on what it meant to change. */
const trainerOptionsSchema = z.object({
  preset: z.string().optional(),
  configFile: z.string().optional(),
  resume: z.boolean().optional(),
  signal: abortSignalSchema.optional(),
  progress: z.boolean().optional(),
  names: z.enum(["fields", "flags"]).optional(),
});

/** This rank's place among the others and its connection to them. */
interface Ranks {
  world: RankEnvironment;
  communicator: NativeCommunicator;
}

type Events = { start: [RunPlan]; step: [StepEvent]; epoch: [EpochEvent]; evaluation: [KnnAccuracy[]]; warning: [string] };

export class Trainer extends EventEmitter<Events> {
  readonly config: TrainConfig;
  private readonly options: TrainerOptions;

  /** `config` holds fields over the preset (default fashion-mnist-tiny) and config file. */
  constructor(config: TrainConfigInput = {}, options: TrainerOptions = {}) {
    super();
    this.options = parseOptions(trainerOptionsSchema, options, "Trainer options", { knownFieldsOnly: true });
    const { preset, configFile, resume, names } = this.options;
    const resolved = resolveTrainConfig({ preset, configFile, resume, names, overrides: config });
    // config.json and the checkpoint keep the data's absolute path: --resume from another folder finds the same data
    this.config = { ...resolved, dataPath: resolve(resolved.dataPath) };
  }

  async fit(): Promise<FitResult> {
    this.options.signal?.throwIfAborted();
    const world = rankEnvironment();
    return undoFailedStart(resolve(this.config.outputDir), !world || world.rank === 0, () => withRunLock((lock) => this.train(lock)));
  }

  private async train(lock: RunLock): Promise<FitResult> {
    const c = this.config;
    const world = rankEnvironment();
    // messages name the settings as the caller gives them: flags on the command line, fields from code
    const names = this.options.names ?? "fields";
    const threads = useThreads(c.threads, world, (message) => (!world || world.rank === 0) && this.warn(message, "RunWarning"), names);
    const device = rankDevice(c.device, world);
    const outputDir = resolve(c.outputDir);
    const setting = (field: string, value?: string | number | boolean) => settingName(field, names, value);
    // rank 0 holds the lock for all ranks: the others would find it held
    if (!world || world.rank === 0) refuseFolderInUse(outputDir, names);
    checkRunFolder(outputDir, { resume: this.options.resume ?? false, overwrite: c.overwrite, names, weights: c.pretrainedWeights });
    if (c.pretrainedWeights) refuseMissingWeights(c.pretrainedWeights, names);
    const checkpointPath = join(outputDir, CHECKPOINT);
    const resuming = (this.options.resume ?? false) && existsSync(checkpointPath);
    if (resuming && (await checkpointKind(checkpointPath)) === "fine-tuning") {
      throw new ConfigError(
        `${checkpointPath} is ${runOf("fine-tuning")} checkpoint, not a pretraining run's: sere finetune --resume continues it; ` +
          `pretrain in another output folder (${setting("outputDir")})`,
      );
    }
    // Rank 0 alone writes the run's files.
    const writes = !world || world.rank === 0;
    if (this.options.resume && !resuming && writes)
      this.warn(`${setting("resume", true)} finds no checkpoint in ${outputDir}: starting a new run`, "RunWarning");
    if (writes) {
      makeFolder(outputDir, setting("outputDir"));
      lock.take(outputDir, names);
      prepareRunFolder(outputDir, { overwrite: c.overwrite, resuming });
      // A resumed run's, once its checkpoint took it: a failed resume leaves the run's own.
      if (!resuming) writeRunConfig(outputDir, c);
    }

    const dataset = openDataset(c.dataPath, { split: "train" });
    if (writes && dataset.leftOut) this.warn(dataset.leftOut);
    const loader = new Loader(
      dataset,
      {
        batchSize: c.batchSizePerGpu,
        // Every rank its own shard and its own random stream (seed + rank; the reference seeds
        // every rank alike, and its ranks draw the same crops and masks for other images).
        seed: c.seed + (world?.rank ?? 0),
        rank: world?.rank ?? 0,
        worldSize: world?.worldSize ?? 1,
        device,
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
          photometry: photometryOf(c),
        },
      },
      { warn: (message) => this.warn(message) },
    );
    const perEpoch = loader.batchesPerEpoch();
    const communicator = world ? await connectRanks(world, { device, timeoutSeconds: c.distTimeout }) : undefined;
    let step: NativeSereStep | undefined;
    let tensorboard: EventFileWriter | undefined;
    try {
      step = new (native().SereStep)({ ...stepOptionsFrom(c), device, communicator });
      if (c.pretrainedWeights) await this.startFrom(c.pretrainedWeights, step, resuming ? checkpointPath : undefined, writes);
      let iteration = 0;
      let epoch = 0;
      if (resuming) {
        const restored = await restoreTraining(step, loader, checkpointPath, { world, config: c, names });
        ({ iteration, epoch } = restored);
        if (writes) {
          if (restored.changed.length > 0) this.warn(describeChangedResume(restored.changed, iteration), "RunWarning");
          // the weights it started from stay the run's own: those given to a resumed run are ignored
          const run = runSettings(outputDir);
          writeRunConfig(outputDir, run ? { ...c, pretrainedWeights: run.pretrainedWeights } : c);
          // The steps after the checkpoint are run again: their earlier lines go.
          await cutLog(join(outputDir, LOG), iteration);
        }
        if (c.maxSteps > 0 && iteration >= c.maxSteps) {
          if (writes)
            this.warn(
              `${checkpointPath} is at step ${iteration}, and ${setting("maxSteps")} is ${c.maxSteps}: nothing to train (raise ${setting("maxSteps")} to go on)`,
              "RunWarning",
            );
          return { config: c, iterations: iteration, epochs: epoch, lastCheckpoint: checkpointPath, stoppedBy: "maxSteps" };
        }
        if (iteration >= c.epochs * perEpoch) {
          if (writes)
            this.warn(
              `${checkpointPath} is at step ${iteration}, the end of the run's ${countOf(c.epochs, "epoch")}: nothing to train (raise ${setting("epochs")} to go on)`,
              "RunWarning",
            );
          return { config: c, iterations: iteration, epochs: epoch, lastCheckpoint: checkpointPath, stoppedBy: "done" };
        }
      }
      // once the checkpoint took: a resume that fails adds no event file to the run
      if (writes && c.tensorboard) tensorboard = new EventFileWriter(outputDir);
      if (resuming) tensorboard?.resumedAt(iteration + 1);
      const ranks = world && communicator ? { world, communicator } : undefined;
      const knnKs = writes && c.knnEval ? this.knnKsFor(dataset) : undefined;
      const evaluates = knnKs !== undefined;
      if (evaluates && ranks && c.knnEvalEvery > 0)
        this.warn(
          `${setting("knnEvalEvery")} is for single-process runs: under data parallelism the k-NN evaluation runs at the end only`,
          "RunWarning",
        );
      if (writes && !c.knnEval && c.knnEvalEvery > 0)
        this.warn(
          `${setting("knnEvalEvery", c.knnEvalEvery)} does nothing with ${setting("knnEval", false)}: the run makes no k-NN evaluation`,
          "RunWarning",
        );
      const knnEvalEvery = evaluates && !ranks ? c.knnEvalEvery : 0;
      const knn = { ks: knnKs ?? [], every: knnEvalEvery };
      this.emit(
        "start",
        runPlan(c, { images: dataset.size, stepsPerEpoch: perEpoch, worldSize: world?.worldSize ?? 1, device, threads, startStep: iteration }),
      );
      const result = await this.loop(step, loader, { epoch, iteration, perEpoch, outputDir, device, ranks, tensorboard, knn });
      await communicator?.barrier();
      if (evaluates && result.stoppedBy !== "abort" && result.lastCheckpoint) {
        result.knn = await this.evaluate(result.lastCheckpoint, { log: join(outputDir, LOG), iteration: result.iterations, tensorboard, ks: knn.ks });
      }
      return result;
    } finally {
      step?.dispose();
      communicator?.dispose();
      tensorboard?.close();
    }
  }

  /** --pretrained-weights: a new run's student and teacher start from the file (a resumed run from its checkpoint). */
  private async startFrom(path: string, step: NativeSereStep, resumedFrom: string | undefined, writes: boolean): Promise<void> {
    if (resumedFrom) {
      if (writes)
        this.warn(
          `${settingName("pretrainedWeights", this.options.names ?? "fields")} ${path} is ignored: the run resumes from ${resumedFrom}`,
          "RunWarning",
        );
      return;
    }
    const start = await startFromPretrained(step, path, { config: this.config, names: this.options.names ?? "fields" });
    if (writes) this.warn(describePretrainedStart(path, start), "PretrainedWeights");
  }

  /** --knn-eval-every: a k-NN evaluation during training after this step (not after the last: the final one follows). */
  private evaluatesAt(iteration: number, at: { perEpoch: number; knn: { every: number } }): boolean {
    const c = this.config;
    if (at.knn.every === 0 || iteration % at.knn.every !== 0) return false;
    return iteration < lastStepOf(c, at.perEpoch);
  }

  /**
   * The teacher's weighted k-NN accuracy (at `ks`: knnKsFor) after `iteration` steps: logged,
   * written to TensorBoard and emitted; undefined when the signal stops it (the checkpoint it
   * measures is already written).
   */
  private async evaluate(
    checkpoint: string,
    at: { log: string; iteration: number; tensorboard?: EventFileWriter; ks: number[] },
  ): Promise<KnnAccuracy[] | undefined> {
    const c = this.config;
    const model = await loadBackbone(c, checkpoint);
    try {
      if (this.options.progress ?? true) process.stderr.write("k-NN evaluation of the teacher...\n");
      const limit = c.knnEvalLimit > 0 ? c.knnEvalLimit : undefined;
      const knn = await knnEvaluation(c.dataPath, clsFeatures(model), {
        size: c.globalCropsSize,
        device: c.device,
        ks: at.ks,
        trainLimit: limit,
        testLimit: limit,
        // images training skipped are skipped here too, under the same policy
        maxFailureShare: c.maxFailureShare,
        warn: (message) => this.warn(message),
        signal: this.options.signal,
      }).catch((err: unknown) => {
        if (this.options.signal?.aborted) return undefined;
        throw err;
      });
      if (!knn) return undefined;
      writeFileSync(at.log, `${JSON.stringify({ iteration: at.iteration, knn })}\n`, { flag: "a" });
      at.tensorboard?.scalars(at.iteration, knnScalars(knn));
      this.emit("evaluation", knn);
      return knn;
    } finally {
      model.dispose();
    }
  }

  private async loop(
    step: NativeSereStep,
    loader: Loader,
    at: {
      epoch: number;
      iteration: number;
      perEpoch: number;
      outputDir: string;
      device: string;
      ranks?: Ranks;
      tensorboard?: EventFileWriter;
      /** The k-NN evaluations within the run: their ks, and every how many steps (0: none). */
      knn: { ks: number[]; every: number };
    },
  ): Promise<FitResult> {
    const c = this.config;
    const writes = !at.ranks || at.ranks.world.rank === 0;
    const worldSize = at.ranks?.world.worldSize ?? 1;
    // The time limit and the ETA count training alone: evaluations during it (--knn-eval-every)
    // take none of its time.
    const trainingStarted = performance.now();
    let evaluatingMs = 0;
    const trainingSeconds = () => (performance.now() - trainingStarted - evaluatingMs) / 1000;
    const secondsLimit = c.maxMinutes > 0 ? c.maxMinutes * 60 : Infinity;
    const timeIsUp = () => trainingSeconds() >= secondsLimit;
    const progress = new ProgressReporter(
      writes && (this.options.progress ?? true),
      lastStepOf(c, at.perEpoch),
      c.logEvery,
      trainingSeconds,
      secondsLimit,
    );
    const stopAsked = () => this.options.signal?.aborted ?? false;
    const log = join(at.outputDir, LOG);
    let { iteration } = at;
    let lastCheckpoint: string | undefined;
    const save = async (epoch: number, state: LoaderState) => {
      const path = join(at.outputDir, CHECKPOINT);
      const extra: Record<string, string | number> = {
        epoch,
        step: iteration,
        config: JSON.stringify(c),
        loader: JSON.stringify(state),
        images: loader.dataset.size, // a resume on data that changed says so
      };
      if (at.ranks) {
        // Every rank's loader position, so that each continues its own stream on resume.
        const states = await at.ranks.communicator.allGather("loader", JSON.stringify(state));
        extra.loaderRanks = `[${states.join(",")}]`;
        extra.worldSize = worldSize;
      }
      lastCheckpoint = path;
      if (writes) await step.save(path, extra);
      return path;
    };
    for (let epoch = at.epoch; epoch < c.epochs; epoch++) {
      let lossSum = 0;
      let losses = 0;
      let started = performance.now();
      // when this rank began waiting for the next batch: the end of the last step's bookkeeping
      let waiting = started;
      for await (const batch of loader.epoch(epoch)) {
        const batchReady = performance.now();
        const schedule = this.scheduleAt(iteration, epoch, at.perEpoch, worldSize);
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
            { ...schedule, stop: stopAsked() || timeIsUp() },
          );
        } finally {
          batch.dispose();
        }
        iteration++;
        const now = performance.now();
        const { stop: _stop, ...outcome } = result;
        const event: StepEvent = {
          epoch,
          iteration,
          iterationsPerEpoch: at.perEpoch,
          ...outcome,
          lr: schedule.lr,
          weightDecay: schedule.weightDecay,
          momentum: schedule.momentum,
          teacherTemp: schedule.teacherTemp,
          teacherPatchTemp: schedule.teacherPatchTemp,
          // all ranks together (their batches are the same size but for failed decodes)
          imagesPerSecond: (batch.images * worldSize * 1000) / (now - started),
          skippedImages: loader.metrics.skipped,
          dataSeconds: (batchReady - waiting) / 1000,
          stepSeconds: (now - batchReady) / 1000,
          rssMiB: process.memoryUsage().rss / 2 ** 20,
          ...cudaPeakMemory(at.device),
        };
        started = now;
        lossSum += result.total;
        losses++;
        if (writes) writeFileSync(log, `${JSON.stringify(event)}\n`, { flag: "a" });
        at.tensorboard?.scalars(iteration, stepScalars(event));
        progress.step(event);
        this.emit("step", event);
        // result.stop: before this step some rank was asked to stop or ran out of time, so all
        // ranks stop here together; alone, what came during the step counts too.
        const reason: FitResult["stoppedBy"] | undefined =
          c.maxSteps > 0 && iteration >= c.maxSteps
            ? "maxSteps"
            : stopAsked() && (result.stop || !at.ranks)
              ? "abort"
              : result.stop || (!at.ranks && timeIsUp())
                ? c.maxMinutes > 0
                  ? "maxMinutes"
                  : "abort"
                : undefined;
        if (reason) {
          await save(epoch, loader.state());
          progress.done();
          return { config: c, iterations: iteration, epochs: epoch, lastCheckpoint, stoppedBy: reason };
        }
        if (this.evaluatesAt(iteration, at)) {
          const evaluationStarted = performance.now();
          await this.evaluate(await save(epoch, loader.state()), { log, iteration, tensorboard: at.tensorboard, ks: at.knn.ks });
          started = performance.now(); // the evaluation is no part of the next step's time
          evaluatingMs += started - evaluationStarted;
          // stopped during the evaluation: the run stops at the checkpoint it measured
          if (stopAsked() && !at.ranks) {
            progress.done();
            return { config: c, iterations: iteration, epochs: epoch, lastCheckpoint, stoppedBy: "abort" };
          }
        }
        waiting = performance.now();
      }
      const path = await save(epoch + 1, { ...loader.state(), epoch: epoch + 1, batch: 0 });
      if (writes && c.saveckpFreq > 0 && (epoch + 1) % c.saveckpFreq === 0) {
        copyFileAtomically(path, join(at.outputDir, `checkpoint${String(epoch + 1).padStart(4, "0")}.pth`));
      }
      this.emit("epoch", { epoch, iteration, checkpoint: path, meanLoss: losses > 0 ? lossSum / losses : undefined });
    }
    progress.done();
    return { config: c, iterations: iteration, epochs: c.epochs, lastCheckpoint, stoppedBy: "done" };
  }

  /** The schedule values (docs/method.md#schedules) at this iteration. */
  private scheduleAt(iteration: number, epoch: number, iterationsPerEpoch: number, worldSize: number): NativeStepSchedule {
    const c = this.config;
    const timing = { epochs: c.epochs, iterationsPerEpoch };
    // The linear scaling rule counts every image of one optimiser step: all ranks, all micro-batches.
    const globalBatchSize = c.batchSizePerGpu * c.accumIter * worldSize;
    const { roundStart, startsRound, endsRound } = accumulationRoundAt(iteration, { iterationsPerEpoch, accumIter: c.accumIter });
    return {
      startsRound,
      endsRound,
      lr: learningRateAt(roundStart, {
        ...timing,
        lr: c.lr,
        minLr: c.minLr,
        schedule: c.lrSchedule,
        cooldownEpochs: c.lrCooldownEpochs,
        globalBatchSize,
        warmupEpochs: c.warmupEpochs,
      }),
      weightDecay: weightDecayAt(roundStart, { ...timing, weightDecay: c.weightDecay, weightDecayEnd: c.weightDecayEnd }),
      momentum: teacherMomentumAt(iteration, { ...timing, momentumTeacher: c.momentumTeacher, momentumTeacherEnd: c.momentumTeacherEnd }),
      teacherTemp: teacherTemperatureAt(epoch, { warmup: c.warmupTeacherTemp, final: c.teacherTemp, warmupEpochs: c.warmupTeacherTempEpochs }),
      teacherPatchTemp: teacherTemperatureAt(epoch, {
        warmup: c.warmupTeacherPatchTemp,
        final: c.teacherPatchTemp,
        warmupEpochs: c.warmupTeacherTempEpochs,
      }),
      freezeLastLayer: epoch < c.freezeLastLayer,
    };
  }

  /**
   * The ks the k-NN evaluation reports, where it has what it measures with (a test split, and
   * labels on every image of both splits); if not, undefined, said once before the first step.
   */
  private knnKsFor(train: Dataset): number[] | undefined {
    try {
      const test = openDataset(this.config.dataPath, { split: "test" });
      requireLabelledSplits(train, test, "the k-NN evaluation", (message) => this.warn(message));
    } catch (err) {
      if (!(err instanceof DatasetError)) throw err;
      this.warn(
        `${err.message}. The run goes on without its k-NN evaluation (${settingName("knnEval", this.options.names ?? "fields", false)} turns it off without this warning)`,
        "RunWarning",
      );
      return undefined;
    }
    return dinoKsFor(Math.min(train.size, this.config.knnEvalLimit > 0 ? this.config.knnEvalLimit : train.size));
  }

  private warn(message: string, type = "DataWarning"): void {
    if (this.listenerCount("warning") > 0) this.emit("warning", message);
    else process.emitWarning(message, type);
  }
}

/** { cudaPeakMiB } on a CUDA device; nothing on the CPU. */
function cudaPeakMemory(device: string): { cudaPeakMiB?: number } {
  return device.startsWith("cuda") ? { cudaPeakMiB: native().cudaPeakMemory(device) / 2 ** 20 } : {};
}
