// Continued pretraining (--pretrained-weights): student and teacher start from the weights
// of a DINO, iBOT or SERE checkpoint or of an exported backbone (.pth or .safetensors, the
// reference's names). What the file lacks (the heads, for a backbone) keeps its initial
// value, the same in both networks, as at any start.
import { existsSync, statSync } from "node:fs";

import { ConfigError, type FieldNames, settingName } from "../config/parse.js";
import type { TrainConfig } from "../config/train.js";
import { readStateDict, toModelNames } from "../model/weights.js";
import type { NativeEntries, NativeSereStep } from "../native/surface.js";
import { NETWORK_SHAPE_FIELDS, storedTrainConfig } from "./backbone.js";

export interface PretrainedStart {
  /** The checkpoint's network the weights came from: "teacher", "student", or "" for a plain state dict. */
  key: string;
  /** The networks' names given by the file. */
  used: string[];
  /** The networks' names the file does not give: they keep their initial values. */
  missing: string[];
  /** The file's names neither network has: ignored. */
  unexpected: string[];
}

const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Refuses, before any work, weights (`pretrainedWeights`) that are no file: missing, or a folder. */
export function refuseMissingWeights(path: string, names: FieldNames): void {
  const given = `${settingName("pretrainedWeights", names)} ${path}`;
  if (!existsSync(path)) throw new ConfigError(`${given}: there is no such file`);
  if (statSync(path).isDirectory()) throw new ConfigError(`${given} is a folder: give a weights file in it (a run's checkpoint.pth)`);
}

/**
 * Loads the weights in `path` into `step`'s student and teacher (those of a run of `config`)
 * before its first step; errors name the settings as the caller gives them (`names`).
 */
export async function startFromPretrained(
  step: NativeSereStep,
  path: string,
  run: { config: TrainConfig; names: FieldNames },
): Promise<PretrainedStart> {
  const given = settingName("pretrainedWeights", run.names, path);
  // A checkpoint's teacher, as DINO's evaluation takes, else its student.
  const { key, entries: stored } = await readStateDict(path, ["teacher", "student"]);
  const student = await step.state("student");
  const teacher = await step.state("teacher");
  try {
    const file = new Map(toModelNames(stored).entries);
    const ours = new Map([...teacher, ...student]);
    const wrongShape = [...file].filter(([name, t]) => ours.has(name) && !sameShape(t.shape(), ours.get(name)!.shape()));
    if (wrongShape.length > 0) {
      const listed = wrongShape.map(([name, t]) => `${name} (file [${t.shape().join(", ")}], model [${ours.get(name)!.shape().join(", ")}])`);
      throw new Error(
        `${given}: ${wrongShape.length === 1 ? "1 tensor does" : `${wrongShape.length} tensors do`} not fit the model: ${listOf(listed)}; ` +
          (await architectureToGive(path, run)),
      );
    }
    const used = [...ours.keys()].filter((name) => file.has(name));
    if (used.length === 0) {
      throw new Error(
        `${given}: none of its ${stored.length} tensors has a name of the model's (it has ${listOf(stored.map(([name]) => name))}); it needs the reference's names`,
      );
    }
    const merge = (network: NativeEntries): NativeEntries => network.map(([name, t]) => [name, file.get(name) ?? t]);
    await step.loadNetworks(merge(student), merge(teacher));
    // A shared head's last_layer2 is last_layer: given when last_layer is.
    const aliased = (name: string) => name.startsWith("head.last_layer2.") && file.has(name.replace("last_layer2", "last_layer"));
    return {
      key,
      used,
      missing: [...ours.keys()].filter((name) => !file.has(name) && !aliased(name)),
      unexpected: [...file.keys()].filter((name) => !ours.has(name)),
    };
  } finally {
    for (const [, t] of [...stored, ...student, ...teacher]) t.dispose();
  }
}

/**
 * The way out of weights that do not fit: a sere-torch checkpoint stores the settings of its
 * run, so the network's settings that differ are named with the values to give; other files
 * store none, so the settings to look at are listed.
 */
async function architectureToGive(path: string, run: { config: TrainConfig; names: FieldNames }): Promise<string> {
  const stored = await storedTrainConfig(path).catch(() => undefined);
  const differ = stored ? NETWORK_SHAPE_FIELDS.filter((field) => stored[field] !== run.config[field]) : [];
  if (stored && differ.length > 0) {
    const settings = (config: TrainConfig) => differ.map((field) => settingName(field, run.names, String(config[field]))).join(", ");
    return `its run's network had ${settings(stored)} (this run's: ${settings(run.config)}): give those`;
  }
  const setting = (field: string) => settingName(field, run.names);
  return `give the architecture they were trained with (${["arch", "patchSize", "globalCropsSize"].map(setting).join(", ")}; for custom ${["embedDim", "depth", "numHeads"].map(setting).join(", ")})`;
}

/** One line on a start from pretrained weights: what was taken, what was not. */
export function describePretrainedStart(path: string, start: PretrainedStart): string {
  const from = start.key ? `the ${start.key} of ${path}` : path;
  const parts = [`started student and teacher from ${from}: ${start.used.length} tensors`];
  if (start.missing.length > 0) parts.push(`${start.missing.length} not in the file keep their initial values: ${listOf(start.missing)}`);
  if (start.unexpected.length > 0)
    parts.push(`${start.unexpected.length} in the file are not the model's and are ignored: ${listOf(start.unexpected)}`);
  return parts.join("; ");
}

/** Names, the first few of them when there are many. */
function listOf(names: string[], shown = 6): string {
  return names.length <= shown ? names.join(", ") : `${names.slice(0, shown).join(", ")} and ${names.length - shown} more`;
}
