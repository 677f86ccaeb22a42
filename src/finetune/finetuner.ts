// `sere finetune`, from code: end-to-end image classification from a pretrained backbone (or
// from random initialisation) with iBOT's recipe (src/config/finetune.ts). Per step the data
// side runs here (decode, crop plan, erasing and mixing plans, rendering on the pool lane)
// while one native call runs the step on the compute lane; the next batch is prepared while
// the current one trains. After every `evalEvery` epochs the test split is classified and the
// best checkpoint kept.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import { join, resolve } from "node:path";

import { z } from "zod";

import { type FinetuneConfig, finetuneConfigSchema, resumedFinetuneSettings } from "../config/finetune.js";
import { abortSignalSchema, ConfigError, type FieldNames, parseOptions, settingName } from "../config/parse.js";
import { type Dataset, DatasetError, requireLabelledSplits, spreadSubset } from "../data/datasets/dataset.js";
import { openDataset } from "../data/datasets/open.js";
import type { DecodeError } from "../data/decode.js";
import { DecodeFailures } from "../data/failures.js";
import { planRandAugment } from "../data/rand-augment.js";
import { Random } from "../data/random.js";
import { NO_NORMALISATION, renderGroups } from "../data/render.js";
import { openBackbone } from "../eval/backbone.js";
import { augmentedCrop, loadImages } from "../eval/features.js";
import { makeFolder } from "../io/folders.js";
import { torchLoad } from "../io/torch-load.js";
import { modelOptionsSchema, type ResolvedModelOptions } from "../model/options.js";
import { native } from "../native/load.js";
import type { NativeCommunicator, NativeFinetuneStep, NativeMixPlan, NativeTensor } from "../native/surface.js";
import { tensor } from "../tensor.js";
import { asMap, checkpointKind, entries, optimizerEntries, runOf, stepProgress } from "../train/checkpoint.js";
import { connectRanks, rankDevice, rankEnvironment, useThreads } from "../train/distributed.js";
import { count, countOf, describeCompute, describeProgress, describeSpan, lastStepOf } from "../train/plan.js";
import { refuseMissingWeights } from "../train/pretrained.js";
import {
  changedRunFields,
  describeChangedResume,
  FINETUNING_NETWORK_FIELDS,
  FINETUNING_PROCESS_FIELDS,
  networkChangedError,
  storedFields,
} from "../train/resume.js";
import {
  BEST_CHECKPOINT,
  CHECKPOINT,
  checkRunFolder,
  cutLog,
  FINETUNE_RESULT,
  LOG,
  prepareRunFolder,
  undoFailedStart,
  writeRunConfig,
} from "../train/run-folder.js";
import { type RunLock, refuseFolderInUse, withRunLock } from "../train/run-lock.js";
import { cosineScheduleAt } from "../train/schedules.js";
import { storedClassifierShape, testAccuracy } from "./classify.js";
import { drawErasing } from "./erasing.js";
import { labelledSubset } from "./labels.js";
import { drawMix } from "./mix.js";
import { finetuneStepOptions } from "./step-options.js";

export interface FinetuneEvaluation {
  /** Counted from 0, as log.jsonl counts (the progress line says "epoch 1 (2 of 3)"); -1 before any evaluation. */
  epoch: number;
  /** Percent; -1 (and top5 0) before any evaluation. */
  top1: number;
  top5: number;
}

export interface FinetuneResult {
  /** The last evaluation's accuracy (percent) on the test split; NaN where the run stopped before its first. */
  top1: number;
  top5: number;
  /** The best evaluation: epoch -1 where the run stopped before its first. */
  best: FinetuneEvaluation;
  /** Epochs completed (resumed runs count the earlier ones). */
  epochs: number;
  /** Steps run in total (resumed runs count the earlier ones). */
  steps: number;
  trainImages: number;
  seconds: number;
  imagesPerSecond: number;
  /** Whether the signal stopped the run. */
  stopped: boolean;
  /** What ended the run, as Trainer's FitResult says it: its last step, --max-steps or the signal. */
  stoppedBy: "done" | "maxSteps" | "abort";
}

export interface FinetuneHooks {
  /** A line for the user (the CLI prints it on stderr). */
  say?: (line: string) => void;
  /** A warning (data left out, images skipped, settings changed on resume); default: process.emitWarning. */
  warn?: (message: string) => void;
  /** How messages name the settings: "flags" on the command line (--resume), default "fields" from code (resume: true). */
  names?: FieldNames;
  /** Told the steps done of this run's total after each step. */
  onStep?: (done: number, total: number, loss: number) => void;
  /**
   * Stops after the current step: a checkpoint is written, `fit` resolves with stopped = true.
   * Already aborted when `fit` is called: `fit` rejects with its reason and nothing is trained or written.
   */
  signal?: AbortSignal;
}

interface Prepared {
  images: NativeTensor;
  labels: NativeTensor;
  randAugment?: { ops: NativeTensor; magnitudes: NativeTensor };
  eraseBoxes?: NativeTensor;
  mix: NativeMixPlan;
}

/** FinetuneHooks as checked: a misspelt hook would otherwise never be called. */
const callback = z.custom<(...args: never[]) => unknown>((value) => typeof value === "function", "must be a function").optional();
const finetuneHooksSchema = z.object({
  say: callback,
  warn: callback,
  names: z.enum(["fields", "flags"]).optional(),
  onStep: callback,
  signal: abortSignalSchema.optional(),
});

export class Finetuner {
  readonly config: FinetuneConfig;

  constructor(
    // a resumed run needs no more than its folder: its own settings (config.json) fill the rest
    config: (Partial<FinetuneConfig> & Pick<FinetuneConfig, "dataPath">) | (Partial<FinetuneConfig> & { resume: true }),
    private readonly hooks: FinetuneHooks = {},
  ) {
    parseOptions(finetuneHooksSchema, hooks, "Finetuner hooks", { knownFieldsOnly: true });
    // resumed: the run's own settings (its config.json) for those not given
    const resolved = parseOptions(finetuneConfigSchema, { ...resumedFinetuneSettings(config, hooks.names), ...config }, "fine-tuning configuration", {
      knownFieldsOnly: true,
    });
    // config.json and the checkpoint keep the data's absolute path: --resume from another folder finds the same data
    this.config = { ...resolved, dataPath: resolve(resolved.dataPath) };
  }

  /** A warning to the hook, else to the process (Node prints it on stderr). */
  private warn(message: string, type = "RunWarning"): void {
    if (this.hooks.warn) this.hooks.warn(message);
    else process.emitWarning(message, type);
  }

  async fit(): Promise<FinetuneResult> {
    this.hooks.signal?.throwIfAborted();
    const world = rankEnvironment();
    return undoFailedStart(resolve(this.config.outputDir), !world || world.rank === 0, () => withRunLock((lock) => this.train(lock)));
  }

  private async train(lock: RunLock): Promise<FinetuneResult> {
    const c = this.config;
    // Data parallelism: every rank trains on its share of each batch; rank 0 writes the files.
    const world = rankEnvironment();
    const rank = world?.rank ?? 0;
    const ranks = world?.worldSize ?? 1;
    const speaks = rank === 0;
    const say = speaks ? (this.hooks.say ?? (() => {})) : () => {};
    const warn = (message: string, type?: string) => speaks && this.warn(message, type);
    // messages name the settings as the caller gives them: flags on the command line, fields from code
    const names = this.hooks.names ?? "fields";
    const threads = useThreads(c.threads, world, (message) => warn(message), names);
    const device = rankDevice(c.device, world);
    const checkpointPath = join(c.outputDir, CHECKPOINT);
    const setting = (field: string, value?: string | number | boolean) => settingName(field, names, value);
    // rank 0 holds the lock for all ranks: the others would find it held
    if (speaks) refuseFolderInUse(c.outputDir, names);
    checkRunFolder(c.outputDir, { resume: c.resume, overwrite: c.overwrite, names, weights: c.pretrainedWeights });
    // a resumed run's network comes from its checkpoint, not from the weights it started from
    if (c.pretrainedWeights && !c.resume) refuseMissingWeights(c.pretrainedWeights, names);
    if (c.resume && !existsSync(checkpointPath)) {
      throw new ConfigError(`${setting("resume", true)} finds no ${checkpointPath} to continue from: start without it`);
    }
    if (c.resume && (await checkpointKind(checkpointPath)) === "pretraining") {
      throw new ConfigError(
        `${checkpointPath} is ${runOf("pretraining")} checkpoint, not a fine-tuning run's: resume fine-tuning in its own output folder, ` +
          `or fine-tune from this one in another (${setting("pretrainedWeights", checkpointPath)})`,
      );
    }
    makeFolder(c.outputDir, setting("outputDir"));
    if (speaks) {
      lock.take(c.outputDir, names);
      // a new run's folder holds nothing of an earlier one (prepareRunFolder)
      prepareRunFolder(c.outputDir, { overwrite: c.overwrite, resuming: c.resume });
      // A resumed run's, once its checkpoint took it: a failed resume leaves the run's own.
      if (!c.resume) writeRunConfig(c.outputDir, c);
    }

    const train = openDataset(c.dataPath, { split: "train" });
    const test = openDataset(c.dataPath, { split: "test" });
    for (const d of [train, test]) if (d.leftOut) warn(d.leftOut, "DataWarning");
    const limited = spreadSubset(train.size, c.limit > 0 ? c.limit : undefined);
    const all = limited.map((i) => train.label(i));
    requireLabelledSplits(train, test, "fine-tuning", (message) => warn(message, "DataWarning"));
    const kept = labelledSubset(all, c.labelFraction, c.seed).map((k) => limited[k]!);
    const numClasses = Math.max(train.classes.length, 1 + all.reduce((a, b) => Math.max(a, b), -1));
    const steps = Math.floor(kept.length / (c.batchSizePerGpu * ranks));
    if (steps === 0) {
      throw new ConfigError(`${kept.length} training images make no batch of ${c.batchSizePerGpu} x ${ranks} rank(s): lower --batch-size-per-gpu`);
    }

    const communicator = world ? await connectRanks(world, { device, timeoutSeconds: c.distTimeout }) : undefined;
    // a resumed run's weights come from its checkpoint (restore says so), not from where it started
    const { step, size, network } = await this.buildStep(numClasses, device, communicator, {
      say,
      resumeFrom: c.resume ? checkpointPath : undefined,
    });
    const shape = { size, numClasses, network, classes: train.classes, ranks };
    try {
      let start = { epoch: 0, iteration: 0, best: { epoch: -1, top1: -1, top5: 0 } };
      if (c.resume) {
        start = await this.restore(step, checkpointPath, { ranks, say, warn });
        if (speaks) {
          writeRunConfig(c.outputDir, c);
          // the steps after the checkpoint are run again: their earlier lines go
          await cutLog(join(c.outputDir, LOG), start.iteration);
        }
      }

      const lastStep = lastStepOf(c, steps);
      if (start.iteration >= lastStep) {
        // a finished run resumed: its result stands, as its last evaluation measured it
        const limit = c.maxSteps > 0 && c.maxSteps < c.epochs * steps ? "maxSteps" : "epochs";
        say(`${checkpointPath} is at step ${start.iteration}, the end of this run: nothing to train (raise ${setting(limit)} to go on)`);
        return finishedResult(c.outputDir, { steps: start.iteration, stepsPerEpoch: steps, trainImages: kept.length, best: start.best });
      }
      /** A stop asked for: the checkpoint of where the run is, and how to go on. */
      const stopAt = async (epochSaved: number, when: string) => {
        await save(checkpointPath, epochSaved, iteration, best);
        const done = describeProgress(iteration, { stepsPerEpoch: steps, epochs: c.epochs });
        say(`stopped after ${countOf(iteration, "step")} (${done})${when}: wrote ${checkpointPath}; continue with ${setting("resume", true)}`);
      };
      const log = async (record: object) => {
        if (speaks) await appendFile(join(c.outputDir, LOG), `${JSON.stringify(record)}\n`);
      };
      const save = async (path: string, epoch: number, iteration: number, best: FinetuneEvaluation) => {
        if (speaks) await step.save(path, checkpointExtras(c, epoch, iteration, best, shape));
      };
      say(
        `fine-tuning on ${count(kept.length)} of ${count(all.length)} training images of ${c.dataPath} (${numClasses} classes), input ${size} px, ` +
          `in batches of ${c.batchSizePerGpu * ranks}${ranks > 1 ? ` over ${ranks} ranks` : ""}: ${countOf(c.epochs, "epoch")} of ${countOf(steps, "step")}, ` +
          `${describeSpan(start.iteration, lastStep)}; ${describeCompute({ device, threads, precision: c.precision })}`,
      );

      const started = performance.now();
      let iteration = start.iteration;
      let best = start.best;
      let last: FinetuneEvaluation | undefined;
      let stopped = false;
      // The next batch is prepared while the step runs; a failure there surfaces when it is awaited.
      const prepare = (epoch: number, index: number, failures: DecodeFailures) => {
        const batch = this.prepareBatch(train, kept, epoch, index, size, device, { rank, ranks }, failures);
        batch.catch(() => {});
        return batch;
      };
      const dispose = (b: Prepared) => {
        for (const t of [b.images, b.labels, b.eraseBoxes, b.randAugment?.ops, b.randAugment?.magnitudes]) t?.dispose();
      };
      for (let epoch = start.epoch; epoch < c.epochs && iteration < lastStep && !stopped; epoch++) {
        // Images that cannot be decoded are skipped with a warning, up to the share training allows per epoch.
        const failures = new DecodeFailures(train, steps * c.batchSizePerGpu, c.maxFailureShare, "this epoch's");
        let next = prepare(epoch, iteration - epoch * steps, failures);
        for (let index = iteration - epoch * steps; index < steps && iteration < lastStep; index++) {
          const batch = await next;
          const prefetching = index + 1 < steps && iteration + 1 < lastStep;
          if (prefetching) next = prepare(epoch, index + 1, failures);
          const lr = cosineScheduleAt(iteration, {
            base: c.lr,
            final: c.minLr,
            epochs: c.epochs,
            iterationsPerEpoch: steps,
            warmupEpochs: c.warmupEpochs,
          });
          const result = await step.run(batch, { lr, weightDecay: c.weightDecay, stop: this.hooks.signal?.aborted ?? false });
          dispose(batch);
          iteration++;
          await log({ epoch, iteration, lr, loss: result.loss, seconds: (performance.now() - started) / 1000 });
          this.hooks.onStep?.(iteration - start.iteration, lastStep - start.iteration, result.loss);
          // A stop asked for during this step (or by onStep) ends the run here; ranks agree on theirs in the next step.
          if (result.stop || (!communicator && this.hooks.signal?.aborted)) {
            stopped = true;
            if (prefetching) await next.then(dispose, () => {});
            await stopAt(epoch, "");
            break;
          }
        }
        if (stopped) break;
        const epochDone = iteration === (epoch + 1) * steps;
        const finalStep = iteration >= lastStep;
        if ((epochDone && (epoch + 1) % c.evalEvery === 0) || finalStep) {
          // Every rank classifies the test split (the same weights, the same result): no rank waits.
          // The best checkpoint follows the weights themselves, as iBOT's; the average is reported beside them.
          // A stop ends the evaluation at once; ranks then stop together, where any one was stopped.
          const signal = this.hooks.signal;
          const measured = await testAccuracy(step, test, {
            size,
            device,
            limit: c.limit,
            maxFailureShare: c.maxFailureShare,
            withAverage: c.modelEma,
            signal,
          }).catch((err: unknown) => {
            if (signal?.aborted) return undefined;
            throw err;
          });
          const stoppedSomewhere =
            communicator && (await communicator.allGather("evaluation-stopped", measured ? "" : "stopped")).includes("stopped");
          const evaluation = stoppedSomewhere ? undefined : measured;
          if (!evaluation) {
            stopped = true;
            await stopAt(epochDone ? epoch + 1 : epoch, `, before the test evaluation of epoch ${epochName(epoch, c.epochs)} ended`);
            break;
          }
          const { average, ...weights } = evaluation;
          last = { epoch, ...weights };
          await log({
            epoch,
            iteration,
            test_top1: last.top1,
            test_top5: last.top5,
            ...(average ? { test_top1_ema: average.top1, test_top5_ema: average.top5 } : {}),
          });
          say(
            `epoch ${epochName(epoch, c.epochs)}: test top-1 ${last.top1.toFixed(2)}%, top-5 ${last.top5.toFixed(2)}%` +
              (average ? `; moving average ${average.top1.toFixed(2)}%, ${average.top5.toFixed(2)}%` : ""),
          );
          if (last.top1 > best.top1) {
            best = last;
            await save(join(c.outputDir, BEST_CHECKPOINT), epoch + 1, iteration, best);
          }
        }
        await save(checkpointPath, epochDone ? epoch + 1 : epoch, iteration, best);
      }
      const seconds = (performance.now() - started) / 1000;
      await communicator?.barrier();
      const trained = (iteration - start.iteration) * c.batchSizePerGpu * ranks;
      const result: FinetuneResult = {
        top1: last?.top1 ?? Number.NaN,
        top5: last?.top5 ?? Number.NaN,
        best,
        epochs: Math.floor(iteration / steps),
        steps: iteration,
        trainImages: kept.length,
        seconds,
        imagesPerSecond: trained / seconds,
        stopped,
        stoppedBy: stopped ? "abort" : iteration < c.epochs * steps ? "maxSteps" : "done",
      };
      if (speaks) writeFileSync(join(c.outputDir, FINETUNE_RESULT), `${JSON.stringify(result, null, 2)}\n`);
      if (result.stoppedBy === "maxSteps") {
        const done = describeProgress(iteration, { stepsPerEpoch: steps, epochs: c.epochs });
        say(
          `stopped at ${setting("maxSteps")} after ${countOf(iteration, "step")} (${done}): wrote ${checkpointPath}; ` +
            `${setting("resume", true)} goes on (with ${setting("maxSteps", 0)}, or more)`,
        );
      }
      return result;
    } finally {
      step.dispose();
      communicator?.dispose();
    }
  }

  /**
   * The native step with the pretrained backbone loaded (or freshly initialised), and the input
   * side; resumed (`resumeFrom`: its checkpoint), the network its checkpoint stores, whose weights
   * restore then puts in: the weights it started from are not needed again.
   */
  private async buildStep(
    numClasses: number,
    device: string,
    communicator: NativeCommunicator | undefined,
    how: { say: (line: string) => void; resumeFrom?: string },
  ) {
    const c = this.config;
    const { say, resumeFrom } = how;
    const architecture = { arch: c.arch, embedDim: c.embedDim, depth: c.depth, numHeads: c.numHeads, mlpRatio: c.mlpRatio, patchSize: c.patchSize };
    let network: ResolvedModelOptions;
    let size: number;
    let backbone: Awaited<ReturnType<typeof openBackbone>> | undefined;
    if (resumeFrom) {
      ({ network, size } = storedClassifierShape(asMap(await torchLoad(resumeFrom), "top-level dict", resumeFrom), resumeFrom));
    } else if (c.pretrainedWeights) {
      backbone = await openBackbone(c.pretrainedWeights, { checkpointKey: c.checkpointKey, architecture, device: "cpu" });
      network = backbone.model.options;
      size = c.inputSize ?? backbone.trainedSize;
    } else {
      size = c.inputSize ?? 224;
      network = parseOptions(
        modelOptionsSchema,
        { ...architecture, convStem: c.convStem, imgSize: size, head: false },
        "architecture (arch, embedDim, depth, numHeads)",
      );
    }
    const step = new (native().FinetuneStep)({ ...finetuneStepOptions(c, network, numClasses, device), communicator });
    if (backbone) {
      const state = backbone.model.state();
      try {
        await step.loadBackbone(state);
        await step.joinRanks();
        say(`started from the backbone of ${c.pretrainedWeights} (${state.length} tensors); the head starts afresh`);
      } catch (err) {
        step.dispose();
        throw err;
      } finally {
        for (const [, t] of state) t.dispose();
        backbone.model.dispose();
      }
    } else {
      await step.joinRanks();
      // a resumed run's weights come from its checkpoint (restore says so)
      if (!resumeFrom) say(`started from random initialisation (no ${settingName("pretrainedWeights", this.hooks.names ?? "fields")})`);
    }
    if (size % network.patchSize !== 0) {
      step.dispose();
      throw new ConfigError(`--input-size ${size} is not a multiple of the patch size ${network.patchSize}`);
    }
    return { step, size, network };
  }

  /** Puts the checkpoint's state into `step`; where the run continues. */
  private async restore(
    step: NativeFinetuneStep,
    path: string,
    run: { ranks: number; say: (line: string) => void; warn: (message: string) => void },
  ) {
    const { say, warn } = run;
    const root = asMap(await torchLoad(path), "top-level dict", path);
    const stored = storedFields(root.get("config"));
    const changed = changedRunFields(stored, this.config, FINETUNING_PROCESS_FIELDS);
    // The network comes from the checkpoint: settings that would shape another are refused, not ignored.
    const reshaped = changedRunFields(stored, this.config, FINETUNING_PROCESS_FIELDS, FINETUNING_NETWORK_FIELDS);
    if (reshaped.length > 0) throw new ConfigError(`cannot resume from ${path}: ${networkChangedError(reshaped).message}`);
    // Other ranks make other batches: the checkpoint's step would be another place in the epoch.
    const written = root.get("world_size");
    if (written !== undefined && Number(written) !== run.ranks) {
      throw new ConfigError(
        `cannot resume from ${path}: it was written by a run of ${Number(written)} rank(s) and this run has ${run.ranks}; resume with the same number of ranks (--nproc-per-node ${Number(written)} on one machine)`,
      );
    }
    const model = await entries(asMap(root.get("model"), '"model"', path), path);
    const modelEma = root.get("model_ema") instanceof Map ? await entries(root.get("model_ema") as Map<unknown, unknown>, path) : undefined;
    const optimizer = await optimizerEntries(root, path);
    const progress = await stepProgress(root, path);
    const { iteration } = progress;
    try {
      await step.restore({ model, modelEma, optimizer, ...progress });
    } catch (err) {
      // A network of another shape: the settings that made it say more than its tensors' names.
      throw changed.length > 0 ? new ConfigError(`cannot resume from ${path}: ${networkChangedError(changed).message}`) : err;
    } finally {
      for (const [, t] of [...model, ...(modelEma ?? []), ...optimizer]) t.dispose();
      progress.cpuGenerator?.dispose();
    }
    const best = { epoch: Number(root.get("best_epoch") ?? -1), top1: Number(root.get("best_top1") ?? -1), top5: Number(root.get("best_top5") ?? 0) };
    say(`resumed from ${path} at step ${iteration}`);
    if (changed.length > 0) warn(describeChangedResume(changed, iteration));
    return { epoch: Number(root.get("epoch")), iteration, best };
  }

  /** Batch `index` of `epoch`: decoded, cropped and flipped, rendered, with its erasing and mixing drawn. */
  private async prepareBatch(
    dataset: Dataset,
    kept: number[],
    epoch: number,
    index: number,
    size: number,
    device: string,
    at: { rank: number; ranks: number },
    failures: DecodeFailures,
  ): Promise<Prepared> {
    const c = this.config;
    const order = this.epochOrder(kept.length, epoch);
    const random = Random.seeded(c.seed, 2, epoch, index, at.rank);
    // This rank's share of global batch `index`: every ranks-th image of it, from its rank on.
    const global = order.slice(index * c.batchSizePerGpu * at.ranks, (index + 1) * c.batchSizePerGpu * at.ranks);
    const indices = global.filter((_, i) => i % at.ranks === at.rank).map((k) => kept[k]!);
    const skipped: DecodeError[] = [];
    const loaded = await loadImages(dataset, indices, failures, skipped, { size, minScale: c.cropScale[0] });
    for (const e of skipped) this.warn(`skipped an image that cannot be decoded: ${e.message}`, "DataWarning");
    if (loaded.length === 0) {
      throw new DatasetError(
        `not one of a batch's ${indices.length} images could be decoded (the latest ${skipped.at(-1)!.file}); fix or remove the broken files`,
      );
    }
    const boxes = Int32Array.from(loaded.flatMap(({ image }, i) => augmentedCrop(i, image, random, c.cropScale, c.hflip)));
    const colour = new Float32Array(loaded.length * 12); // no photometric change
    // Pixels in [0, 1]: RandAugment works on them, the step normalises after it.
    const [images] = await renderGroups(
      loaded.map((l) => l.image),
      [{ size, boxes, colour }],
      NO_NORMALISATION,
      device,
    );
    const labels = tensor(BigInt64Array.from(loaded.map((l) => BigInt(dataset.label(l.index)))), [loaded.length]);
    const plan = c.randAugmentOps > 0 ? planRandAugment(random, loaded.length, { height: size, width: size }, RAND_AUGMENT_OPTIONS(c)) : undefined;
    const erase = drawErasing(random, c.reprob, loaded.length, size, size);
    return {
      images: images!,
      labels,
      randAugment: plan && {
        ops: tensor(plan.ops, [loaded.length, c.randAugmentOps]),
        magnitudes: tensor(plan.magnitudes, [loaded.length, c.randAugmentOps]),
      },
      eraseBoxes: erase.length > 0 ? tensor(BigInt64Array.from(erase.flat().map(BigInt)), [erase.length, 5]) : undefined,
      mix: drawMix(random, c, size, size),
    };
  }

  /** The training images' order in `epoch`: a seeded permutation, the same on resume. */
  private epochOrder(count: number, epoch: number): number[] {
    if (this.order?.epoch !== epoch) this.order = { epoch, order: Random.seeded(this.config.seed, 1, epoch).permutation(count) };
    return this.order.order;
  }

  private order?: { epoch: number; order: number[] };
}

const RAND_AUGMENT_OPTIONS = (c: FinetuneConfig) => ({ numOps: c.randAugmentOps, magnitude: c.randAugmentMagnitude, numMagnitudeBins: 31 });

interface RunShape {
  size: number;
  numClasses: number;
  network: ResolvedModelOptions;
  /** The training data's class names, in label order (empty for numbered labels without names). */
  classes: readonly string[];
  /** The ranks that train it: their batches make the steps of an epoch. */
  ranks: number;
}

function checkpointExtras(c: FinetuneConfig, epoch: number, iteration: number, best: FinetuneEvaluation, shape: RunShape) {
  return {
    epoch,
    iteration,
    best_epoch: best.epoch,
    best_top1: best.top1,
    best_top5: best.top5,
    input_size: shape.size,
    num_classes: shape.numClasses,
    class_names: JSON.stringify(shape.classes),
    network: JSON.stringify(shape.network),
    config: JSON.stringify(c),
    world_size: shape.ranks,
  };
}

/** The result of a run that had nothing left to train: its result.json, or what its checkpoint says. */
function finishedResult(
  outputDir: string,
  run: { steps: number; stepsPerEpoch: number; trainImages: number; best: FinetuneEvaluation },
): FinetuneResult {
  try {
    return JSON.parse(readFileSync(join(outputDir, FINETUNE_RESULT), "utf8")) as FinetuneResult;
  } catch {
    const { steps, stepsPerEpoch, trainImages, best } = run;
    const epochs = Math.floor(steps / stepsPerEpoch);
    return { top1: best.top1, top5: best.top5, best, epochs, steps, trainImages, seconds: 0, imagesPerSecond: 0, stopped: false, stoppedBy: "done" };
  }
}

/** An epoch as the log and result.json number it, from 0, and as a count: "epoch 1 (2 of 3)". */
const epochName = (epoch: number, epochs: number) => `${epoch} (${epoch + 1} of ${epochs})`;
