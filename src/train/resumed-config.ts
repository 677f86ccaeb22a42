// A resumed run against the run its checkpoint came from: the fields that shape the run
// (network, recipe, data, seed) and differ are named, so that a resumed run does not change
// its network or its schedules without saying so. The fields that only steer the process
// (where it writes, when it stops, how many threads) may change freely.
import type { FinetuneConfig } from "../config/finetune.js";
import type { TrainConfig } from "../config/train.js";

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
  "evalEvery",
  "maxSteps",
  "maxFailureShare",
]);

const show = (value: unknown) => JSON.stringify(value);

/** "embedDim 48 (the checkpoint's run: 96)" for each field but `processFields` that differs. */
export function changedRunFields<C extends object>(stored: Record<string, unknown>, now: C, processFields: ReadonlySet<keyof C>): string[] {
  return (Object.keys(now) as Array<keyof C & string>)
    .filter((key) => !processFields.has(key) && key in stored && show(stored[key]) !== show(now[key]))
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
