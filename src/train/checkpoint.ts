// Training checkpoints: written natively (torch.save format, atomically), read here into
// the state a SereStep restores, plus the caller's extras (epoch, config, loader state).
import { isStoredTensor, materialize, torchLoad } from "../io/torch-load.js";
import type { NativeEntries, NativeTrainingState } from "../native/surface.js";
import { type Tensor, tensor } from "../tensor.js";

export class CheckpointError extends Error {
  override name = "CheckpointError";
}

export interface TrainingCheckpoint {
  state: NativeTrainingState;
  /** Values the trainer stored beside the state (numbers and strings). */
  extra: Map<string, unknown>;
}

const STATE_KEYS = new Set(["student", "teacher", "optimizer", "ibot_loss", "fp16_scaler", "iteration", "cpu_generator"]);

/**
 * Which run wrote a checkpoint: sere-train ("pretraining": its teacher and student), sere
 * finetune ("fine-tuning": its classifier under "model", with the network it stores), or
 * neither (undefined: a reference checkpoint, an exported backbone, another file).
 */
export async function checkpointKind(path: string): Promise<"pretraining" | "fine-tuning" | undefined> {
  let root: unknown;
  try {
    root = await torchLoad(path);
  } catch {
    return undefined; // not a torch.save file: the reader that needs one says why
  }
  if (!(root instanceof Map)) return undefined;
  if (root.get("teacher") instanceof Map && typeof root.get("config") === "string") return "pretraining";
  if (root.get("model") instanceof Map && typeof root.get("network") === "string") return "fine-tuning";
  return undefined;
}

/** "the pretraining run's (sere-train's)" or "the fine-tuning run's (sere finetune's)": whose checkpoint a file of `kind` is. */
export const runOf = (kind: "pretraining" | "fine-tuning") =>
  kind === "pretraining" ? "a pretraining run's (sere-train's)" : "a fine-tuning run's (sere finetune's)";

export function asMap(value: unknown, what: string, path: string): Map<unknown, unknown> {
  if (!(value instanceof Map)) throw new CheckpointError(`${path} is not a sere-torch training checkpoint: it has no ${what}`);
  return value;
}

export function tensorOf(value: unknown, what: string, path: string): Promise<Tensor> {
  if (!isStoredTensor(value)) throw new CheckpointError(`${path} is not a sere-torch training checkpoint: ${what} is not a tensor`);
  return materialize(value, `${path}: ${what}`);
}

export async function entries(dict: Map<unknown, unknown>, path: string): Promise<NativeEntries> {
  const out: NativeEntries = [];
  for (const [k, v] of dict) if (isStoredTensor(v)) out.push([String(k), await tensorOf(v, String(k), path)]);
  return out;
}

/** Disposes every tensor of a checkpoint read with readTrainingCheckpoint. */
export function disposeCheckpoint(c: TrainingCheckpoint): void {
  const s = c.state;
  for (const list of [s.student, s.teacher, s.optimizer]) for (const [, t] of list) t.dispose();
  for (const t of [s.centre, s.patchCentre, s.cpuGenerator]) t?.dispose();
}

/** The optimiser's state of a checkpoint (PyTorch's state_dict layout) as "{i}.exp_avg", "{i}.exp_avg_sq", "{i}.step" entries. */
export async function optimizerEntries(root: Map<unknown, unknown>, path: string): Promise<NativeEntries> {
  const optimizer = asMap(root.get("optimizer"), '"optimizer"', path);
  const out: NativeEntries = [];
  for (const [index, s] of asMap(optimizer.get("state"), "optimizer state", path)) {
    const state = asMap(s, `optimizer state ${String(index)}`, path);
    out.push([`${String(index)}.exp_avg`, await tensorOf(state.get("exp_avg"), "exp_avg", path)]);
    out.push([`${String(index)}.exp_avg_sq`, await tensorOf(state.get("exp_avg_sq"), "exp_avg_sq", path)]);
    out.push([`${String(index)}.step`, tensor(BigInt64Array.of(BigInt(Number(state.get("step")))), [])]);
  }
  return out;
}

/**
 * What every checkpoint of the package stores beside its networks and optimiser: the fp16 loss
 * scale, the iteration and the step's generator state (the caller disposes the generator).
 */
export async function stepProgress(root: Map<unknown, unknown>, path: string) {
  const scaler = asMap(root.get("fp16_scaler"), '"fp16_scaler"', path);
  const generator = root.get("cpu_generator");
  return {
    lossScale: Number(scaler.get("scale")),
    goodSteps: Number(scaler.get("_growth_tracker")),
    iteration: Number(root.get("iteration")),
    cpuGenerator: isStoredTensor(generator) ? await materialize(generator, `${path}: cpu_generator`) : undefined,
  };
}

export async function readTrainingCheckpoint(path: string): Promise<TrainingCheckpoint> {
  const root = asMap(await torchLoad(path), "top-level dict", path);
  const centres = asMap(root.get("ibot_loss"), '"ibot_loss"', path);
  return {
    state: {
      student: await entries(asMap(root.get("student"), '"student"', path), path),
      teacher: await entries(asMap(root.get("teacher"), '"teacher"', path), path),
      optimizer: await optimizerEntries(root, path),
      centre: await tensorOf(centres.get("center"), "ibot_loss.center", path),
      patchCentre: await tensorOf(centres.get("center2"), "ibot_loss.center2", path),
      ...(await stepProgress(root, path)),
    },
    extra: new Map([...root].filter(([k]) => typeof k === "string" && !STATE_KEYS.has(k)) as Array<[string, unknown]>),
  };
}
