// A run's output folder: what an earlier run left there, and how a new or resumed run takes
// it over without losing or mixing up work.
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

import { ConfigError, type FieldNames, settingName } from "../config/parse.js";
import { PARTIAL_SUFFIX, writeFileAtomically } from "../io/atomic.js";
import { EVENT_FILE } from "./tensorboard.js";

export const CHECKPOINT = "checkpoint.pth";
/** A fine-tuning run's checkpoint of its best test accuracy, and its result. */
export const BEST_CHECKPOINT = "best.pth";
export const FINETUNE_RESULT = "result.json";
/** The settings a run trains with, which a resumed run takes over (config/resolve.ts). */
export const RUN_CONFIG = "config.json";
export const LOG = "log.jsonl";
/** checkpoint.pth and the numbered copies (checkpoint0040.pth). */
const CHECKPOINT_FILE = /^checkpoint(\d{4,})?\.pth$/;

/** A run's own files, which a run started anew (overwrite) deletes: checkpoints, the log, a fine-tuning run's best checkpoint and result. */
const isRunFile = (name: string) => CHECKPOINT_FILE.test(name) || name === LOG || name === BEST_CHECKPOINT || name === FINETUNE_RESULT;

/** The files of an earlier run in `dir` (of pretraining or fine-tuning), by name. */
export function earlierRunFiles(dir: string, names: FieldNames = "flags"): string[] {
  if (!existsSync(dir)) return [];
  if (!statSync(dir).isDirectory()) {
    throw new ConfigError(`the output folder ${dir} is a file, not a folder: give another ${settingName("outputDir", names)}`);
  }
  return readdirSync(dir).filter(isRunFile).sort();
}

/**
 * The files a run has written in `dir`, in words: its settings, log, checkpoints (the numbered
 * ones as a range) and TensorBoard files.
 */
export function describeRunFiles(dir: string): string {
  const names = readdirSync(dir)
    .filter((name) => name === RUN_CONFIG || isRunFile(name) || EVENT_FILE.test(name))
    .sort();
  const numbered = names.filter((name) => CHECKPOINT_FILE.test(name) && name !== CHECKPOINT);
  const rest = names.filter((name) => !numbered.includes(name));
  if (numbered.length <= 2) return names.join(", ");
  return [...rest, `${numbered.length} numbered checkpoints (${numbered[0]} to ${numbered.at(-1)})`].join(", ");
}

/**
 * Refuses, before any work, a new run in a folder that holds an earlier run's files: the
 * user says whether to continue it (resume) or to start anew (overwrite).
 */
export function checkRunFolder(dir: string, how: { resume: boolean; overwrite: boolean; names?: FieldNames; weights?: string }): void {
  const names = how.names ?? "flags";
  const [resume, overwrite] = [settingName("resume", names, true), settingName("overwrite", names, true)];
  if (how.resume && how.overwrite) {
    throw new ConfigError(`${resume} continues the run in the output folder and ${overwrite} deletes it: give one of them`);
  }
  // the run would delete the weights it is about to start from
  const { weights } = how;
  if (how.overwrite && weights && resolve(dirname(weights)) === resolve(dir) && isRunFile(basename(weights))) {
    throw new ConfigError(
      `${overwrite} would delete ${weights}, which ${settingName("pretrainedWeights", names)} starts this run from: ` +
        `copy it out of ${dir} first, or give another ${settingName("outputDir", names)}`,
    );
  }
  if (how.resume || how.overwrite) return;
  const found = earlierRunFiles(dir, names);
  if (found.length === 0) return;
  const resumable = found.includes(CHECKPOINT);
  throw new ConfigError(
    `the output folder ${dir} holds an earlier run (${found.join(", ")}): ` +
      (resumable ? `continue it with ${resume}, ` : "") +
      `start anew with ${overwrite} (deletes those files), or give another ${settingName("outputDir", names)}`,
  );
}

/**
 * Makes the folder ready for this run's writer (rank 0): removes what killed writes left
 * (*.partial); with overwrite, the earlier run's files (isRunFile); and the log and
 * TensorBoard event files of a run that does not resume, so that it starts anew.
 */
export function prepareRunFolder(dir: string, how: { overwrite: boolean; resuming: boolean }): void {
  for (const name of readdirSync(dir)) {
    const stale = name.endsWith(PARTIAL_SUFFIX) || (how.overwrite && isRunFile(name)) || (!how.resuming && (name === LOG || EVENT_FILE.test(name)));
    if (stale) rmSync(join(dir, name), { force: true });
  }
}

/**
 * Cuts the log back to the lines written up to `iteration` (the checkpoint a run resumes
 * from), so that the steps the resumed run repeats appear once. Lines after the first step
 * beyond it, and a line cut short by a kill, are dropped. Returns the lines dropped.
 */
export async function cutLog(path: string, iteration: number): Promise<number> {
  if (!existsSync(path)) return 0;
  const lines = readFileSync(path, "utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  const kept: string[] = [];
  for (const line of lines) {
    const entry = parsedLine(line);
    if (entry === undefined || (typeof entry.iteration === "number" && entry.iteration > iteration)) break;
    kept.push(line);
  }
  if (kept.length === lines.length) return 0;
  await writeFileAtomically(path, Buffer.from(kept.map((line) => `${line}\n`).join(""), "utf8"));
  return lines.length - kept.length;
}

function parsedLine(line: string): { iteration?: unknown } | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null ? (value as { iteration?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

/** config.json: the configuration the run trains with. */
export function writeRunConfig(dir: string, config: object): void {
  writeFileSync(join(dir, RUN_CONFIG), `${JSON.stringify(config, null, 2)}\n`);
}

/**
 * Runs a run's `body`; where it fails before the run wrote a log or a checkpoint, what it wrote
 * goes again (`writer`: the process that writes the run's files): the folders it made for the
 * output folder `dir`, else its settings and TensorBoard file in a folder that was there. A start
 * that failed (bad weights, data, settings) leaves nothing behind, not even settings a later
 * --resume would take up.
 */
export async function undoFailedStart<T>(dir: string, writer: boolean, body: () => Promise<T>): Promise<T> {
  let made: string | undefined; // the outermost folder of dir's path that is not there yet
  for (let d = resolve(dir); writer && !existsSync(d); d = dirname(d)) made = d;
  try {
    return await body();
  } catch (err) {
    const started = !writer || !existsSync(dir) || earlierRunFiles(dir).length > 0;
    if (!started && made) rmSync(made, { recursive: true, force: true });
    else if (!started)
      for (const name of readdirSync(dir)) if (name === RUN_CONFIG || EVENT_FILE.test(name)) rmSync(join(dir, name), { force: true });
    throw err;
  }
}
