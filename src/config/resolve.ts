// The configuration of a run: a preset (for a resumed run, the run's own settings over it),
// overridden by a config file (JSON or YAML), overridden by explicit values (command-line flags
// or code), then validated as a whole.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

import { parse as parseYaml } from "yaml";

import { whyUnreadable } from "../io/input-file.js";
import { RUN_CONFIG } from "../train/run-folder.js";
import { ConfigError, type FieldNames, parseOptions } from "./parse.js";
import { DEFAULT_PRESET, PRESETS, type PresetName, presetUnderArch } from "./presets.js";
import { type TrainConfig, type TrainConfigInput, trainConfigSchema } from "./train.js";

export interface ConfigSources {
  /** Default: fashion-mnist-tiny. */
  preset?: string;
  /** A .json, .yaml or .yml file of camelCase (or kebab-case) fields. */
  configFile?: string;
  overrides?: TrainConfigInput;
  /**
   * Continue the run in outputDir: the settings it was started with (its config.json) stand in
   * for the preset's, but for those of this invocation alone (RUN_INVOCATION_FIELDS); the config
   * file and the overrides still apply over them.
   */
  resume?: boolean;
  /** How errors name the fields: "flags" (--batch-size-per-gpu) for the command line; default "fields" (batchSizePerGpu). */
  names?: FieldNames;
}

/**
 * The fields a resumed run takes from the preset and the flags rather than from the run it
 * continues: where the run is and how this invocation ends (a run stopped by --max-steps goes
 * on when resumed); and the weights a new run starts from, which a resumed run ignores.
 */
const RUN_INVOCATION_FIELDS: ReadonlySet<string> = new Set<keyof TrainConfig>([
  "outputDir",
  "overwrite",
  "maxSteps",
  "maxMinutes",
  "pretrainedWeights",
]);

const camelKeys = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/[-_]([a-z0-9])/g, (_, c: string) => c.toUpperCase()), v]));

/** " (line 2, column 5)" for JSON.parse's "at position N" (YAML's own messages give the line); "" otherwise. */
function whereInText(text: string, message: string): string {
  const position = /at position (\d+)/.exec(message);
  if (!position) return "";
  const before = text.slice(0, Number(position[1]));
  const line = before.split("\n").length;
  return ` (line ${line}, column ${before.length - before.lastIndexOf("\n")})`;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read the config file ${path}: ${whyUnreadable(err)}`);
  }
  let data: unknown;
  try {
    data = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    const format = /\.ya?ml$/i.test(path) ? "YAML" : "JSON";
    throw new ConfigError(`the config file ${path} is not valid ${format}: ${(err as Error).message}${whereInText(text, (err as Error).message)}`);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new ConfigError(`the config file ${path} must hold an object of fields, e.g. { "epochs": 10 }`);
  }
  return camelKeys(data as Record<string, unknown>);
}

/**
 * Of a run's settings (runSettings), those that resuming it takes over: the fields `known` has,
 * but for those of the invocation alone (`invocation`).
 */
export function continuedSettings(run: Record<string, unknown>, known: object, invocation: ReadonlySet<string>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(run).filter(([key]) => key in known && !invocation.has(key)));
}

/** The settings the run in `outputDir` was started with (its config.json); undefined where it has none. */
export function runSettings(outputDir: string): Record<string, unknown> | undefined {
  const runConfig = join(resolve(outputDir), RUN_CONFIG);
  return existsSync(runConfig) ? readConfigFile(runConfig) : undefined;
}

export function resolveTrainConfig(sources: ConfigSources = {}): TrainConfig {
  const presetName = sources.preset ?? DEFAULT_PRESET;
  if (!(presetName in PRESETS)) {
    throw new ConfigError(`unknown preset "${presetName}"; the presets are ${Object.keys(PRESETS).join(", ")}`);
  }
  const { overrides } = sources;
  if (overrides !== undefined && (overrides === null || typeof overrides !== "object" || Array.isArray(overrides))) {
    throw new ConfigError(
      `the training configuration must be an object of fields, e.g. { epochs: 10 } (given: ${JSON.stringify(overrides)}); a preset is named apart, as Trainer's option { preset }`,
    );
  }
  const given = {
    ...(sources.configFile ? readConfigFile(sources.configFile) : {}),
    ...overrides,
  };
  const preset = presetUnderArch(PRESETS[presetName as PresetName], given.arch);
  const origin = `preset ${presetName}${sources.configFile ? `, file ${sources.configFile}` : ""}`;
  const fresh = parseOptions(trainConfigSchema, { ...preset, ...given }, `training configuration (${origin})`, {
    knownFieldsOnly: true,
    names: sources.names,
  });
  const run = sources.resume ? runSettings(fresh.outputDir) : undefined;
  if (!run) return fresh;
  const continued = continuedSettings(run, trainConfigSchema.shape, RUN_INVOCATION_FIELDS);
  const what = `training configuration (the run's ${join(resolve(fresh.outputDir), RUN_CONFIG)}, over ${origin})`;
  return parseOptions(trainConfigSchema, { ...preset, ...continued, ...given }, what, { knownFieldsOnly: true, names: sources.names });
}
