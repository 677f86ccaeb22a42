// Resuming a run from its checkpoint. A resumed run is checked against the run its checkpoint
// came from: the fields that shape the run (network, recipe, data, seed) and differ are named,
// so that a resumed run does not change its network or its schedules without saying so. The
// fields that only steer the process (where it writes, when it stops, how many threads) may
// change freely.
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";

import type { FinetuneConfig } from "../config/finetune.js";
import { type FieldNames, settingName } from "../config/parse.js";
import type { TrainConfig } from "../config/train.js";
import type { Loader, LoaderState } from "../data/index.js";
import type { NativeSereStep } from "../native/surface.js";
import { disposeCheckpoint, readTrainingCheckpoint } from "./checkpoint.js";
import type { RankEnvironment } from "./distributed.js";

/** Pretraining's fields that a resumed run may change without a word: they do not change what is trained. */
export const TRAINING_PROCESS_FIELDS: ReadonlySet<keyof TrainConfig> = new Set<keyof TrainConfig>([
  "pretrainedWeights", // ignored when resuming, with its own warning
  "device",
  "precision",
  "threads",
  "sideBySide",
  "distTimeout",
  "outputDir",
  "overwrite",
  "saveckpFreq",
  "maxSteps",
  "maxMinutes",
  "logEvery",
  "knnEval",
  "knnEvalLimit",
  "knnEvalEvery",
  "tensorboard",
  "maxFailureShare",
]);

/** Fine-tuning's. */
export const FINETUNING_PROCESS_FIELDS: ReadonlySet<keyof FinetuneConfig> = new Set<keyof FinetuneConfig>([
  "pretrainedWeights", // the checkpoint holds the network it started from
  "device",
  "precision",
  "threads",
  "distTimeout",
  "outputDir",
  "resume",
  "overwrite",
  "evalEvery",
  "maxSteps",
  "maxFailureShare",
]);

/**
 * Fine-tuning's fields that shape its network. A resumed fine-tuning run takes its network from
 * the checkpoint (its backbone from pretrainedWeights only at the start), so a change to one
 * of them would be ignored: it is refused instead.
 */
export const FINETUNING_NETWORK_FIELDS: ReadonlySet<keyof FinetuneConfig> = new Set<keyof FinetuneConfig>([
  "arch",
  "patchSize",
  "convStem",
  "embedDim",
  "depth",
  "numHeads",
  "mlpRatio",
  "inputSize",
  "pooling",
]);

const show = (value: unknown) => JSON.stringify(value);

/**
 * "embedDim 48 (the checkpoint's run: 96)" for each field but `processFields` that differs
 * (among `among`, where given).
 */
export function changedRunFields<C extends object>(
  stored: Record<string, unknown>,
  now: C,
  processFields: ReadonlySet<keyof C>,
  among?: ReadonlySet<keyof C>,
): string[] {
  return (Object.keys(now) as Array<keyof C & string>)
    .filter((key) => (among?.has(key) ?? true) && !processFields.has(key) && key in stored && show(stored[key]) !== show(now[key]))
    .map((key) => `${key} ${show(now[key])} (the checkpoint's run: ${show(stored[key])})`);
}

/** The fields of the configuration a checkpoint stores as JSON; none where it stores none readable. */
export function storedFields(config: unknown): Record<string, unknown> {
  try {
    const fields: unknown = JSON.parse(String(config));
    return fields !== null && typeof fields === "object" ? (fields as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The error of a resume whose network does not fit the checkpoint's, where settings that shape it changed. */
export function networkChangedError(changed: string[]): Error {
  return new Error(
    `its network does not match this run's, whose settings differ from the checkpoint's run: ${changed.join(", ")}; resume with the checkpoint's settings`,
  );
}

/** The warning of a resume with changed settings. */
export const describeChangedResume = (changed: string[], step: number) =>
  `resuming with settings that differ from the checkpoint's run: ${changed.join(", ")}; the run goes on with them after step ${step}, its schedules too`;

/**
 * Puts a pretraining checkpoint's state into `step` and `loader`: where the run goes on, and
 * the settings it changes (changedRunFields). Every failure names the file and the way out.
 */
export async function restoreTraining(
  step: NativeSereStep,
  loader: Loader,
  path: string,
  run: { world: RankEnvironment | undefined; config: TrainConfig; names?: FieldNames },
): Promise<{ iteration: number; epoch: number; changed: string[] }> {
  const { world } = run;
  const names = run.names ?? "flags";
  const checkpoint = await readTrainingCheckpoint(path).catch((err: unknown) => {
    throw resumeError(path, err, names);
  });
  try {
    const written = Number(checkpoint.extra.get("worldSize") ?? 1);
    const worldSize = world?.worldSize ?? 1;
    if (written !== worldSize) {
      throw new Error(
        `it was written by a run of ${written} rank(s) and this run has ${worldSize}; resume with the same number of ranks (--nproc-per-node ${written} on one machine)`,
      );
    }
    const changed = changedRunFields(storedFields(checkpoint.extra.get("config")), run.config, TRAINING_PROCESS_FIELDS);
    const images = checkpoint.extra.get("images");
    if (images !== undefined && Number(images) !== loader.dataset.size) {
      changed.push(`the images of ${run.config.dataPath} ${loader.dataset.size} (the checkpoint's run: ${String(images)})`);
    }
    try {
      // Ranks other than 0 keep their own generator (drop path) rather than rank 0's.
      await step.restore(world && world.rank > 0 ? { ...checkpoint.state, cpuGenerator: undefined } : checkpoint.state);
    } catch (err) {
      // A network of another shape: the settings that made it say more than its tensors' names.
      if (changed.length === 0) throw err;
      throw networkChangedError(changed);
    }
    // a run of ranks keeps each one's position; a run of one process (or one rank) its own alone
    const ranks = checkpoint.extra.get("loaderRanks");
    const loaderState = (
      world && ranks !== undefined ? (JSON.parse(String(ranks)) as LoaderState[])[world.rank] : JSON.parse(String(checkpoint.extra.get("loader")))
    ) as LoaderState;
    try {
      loader.restore(loaderState);
    } catch (err) {
      // other data or batches: the checkpoint's place in its epoch is no place in this run's
      if (changed.length === 0) throw err;
      throw new Error(
        `its place in the epoch does not fit this run's batches, whose settings differ from the checkpoint's run: ${changed.join(", ")}; resume with the checkpoint's settings`,
      );
    }
    return { iteration: Number(checkpoint.extra.get("step")), epoch: loaderState.epoch, changed };
  } catch (err) {
    throw resumeError(path, err, names);
  } finally {
    disposeCheckpoint(checkpoint);
  }
}

/** Why `path` cannot be resumed from, and the ways on: an earlier checkpoint of the run (--saveckp-freq), or a new run. */
function resumeError(path: string, err: unknown, names: FieldNames): Error {
  const folder = dirname(path);
  const earlier = existsSync(folder)
    ? readdirSync(folder)
        .filter((f) => /^checkpoint\d{4}\.pth$/.test(f))
        .sort()
    : [];
  const fromEarlier = earlier.length > 0 ? ` To go on from the run's latest saved epoch, copy ${join(folder, earlier.at(-1)!)} to ${path}.` : "";
  return new Error(
    `cannot resume from ${path}: ${(err as Error).message.replace(/\.$/, "")}.${fromEarlier} Start a new run with another ${settingName("outputDir", names)}, or here with ${settingName("overwrite", names, true)} instead of ${settingName("resume", names, true)}.`,
  );
}
