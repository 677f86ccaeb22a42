// Weights in and out: .pth (torch.save format, written by LibTorch) and .safetensors,
// with the reference's names; what a file holds is mapped onto a model's names here.

import { readSafetensors, writeSafetensors } from "../io/safetensors.js";
import { isStoredTensor, materialize, torchLoad } from "../io/torch-load.js";
import { native } from "../native/load.js";
import type { Tensor } from "../tensor.js";

export type Entries = Array<[string, Tensor]>;
export type WeightsFormat = "pth" | "safetensors";

export function formatOf(path: string): WeightsFormat {
  return path.endsWith(".safetensors") ? "safetensors" : "pth";
}

/** The tensors directly in a dict, as [name, tensor] pairs (copies in native memory). */
function tensorsOf(dict: Map<unknown, unknown>, where: string): Entries {
  const entries: Entries = [];
  for (const [key, value] of dict) {
    if (typeof key === "string" && isStoredTensor(value)) entries.push([key, materialize(value, `${where}: ${key}`)]);
  }
  return entries;
}

/**
 * The groups of tensors in a weights file: "" for a plain state dict, else one per key of
 * a checkpoint whose value is a dict of tensors ("teacher", "student", ...).
 */
export async function readWeightGroups(path: string): Promise<Array<[string, Entries]>> {
  if (formatOf(path) === "safetensors") return [["", await readSafetensors(path)]];
  const root = await torchLoad(path);
  if (!(root instanceof Map)) throw new Error(`${path} does not hold a dict of tensors or a checkpoint dict`);
  const groups: Array<[string, Entries]> = [];
  const direct = tensorsOf(root, path);
  if (direct.length > 0) groups.push(["", direct]);
  for (const [key, value] of root) {
    if (typeof key !== "string" || !(value instanceof Map)) continue;
    const nested = tensorsOf(value, path);
    if (nested.length > 0) groups.push([key, nested]);
  }
  return groups;
}

/** Releases the tensors readWeightGroups gave. */
export function disposeWeightGroups(groups: Array<[string, Entries]>): void {
  for (const [, entries] of groups) for (const [, t] of entries) t.dispose();
}

export async function writeWeights(path: string, entries: Entries): Promise<void> {
  if (formatOf(path) === "safetensors") return writeSafetensors(path, entries);
  return native().savePth(path, entries);
}

/**
 * The state dict to load from a file's groups: a checkpoint's `checkpointKey` ("teacher" by
 * default), or, in a file of tensors alone, those tensors. A file that holds dicts of
 * tensors is a checkpoint, whatever tensors lie beside them (a training checkpoint keeps
 * its generator state there); a plain state dict has no keys to choose from and ignores
 * `checkpointKey`, as DINO's evaluation does.
 */
export function selectStateDict(groups: Array<[string, Entries]>, path: string, checkpointKey?: string): Entries {
  const keys = groups.map(([key]) => key);
  const plain = groups.find(([key]) => key === "");
  if (plain && groups.length === 1) return plain[1];
  const wanted = checkpointKey ?? "teacher";
  const found = groups.find(([key]) => key === wanted);
  if (found) return found[1];
  const available = keys.filter((k) => k !== "").map((k) => `"${k}"`);
  throw new Error(
    `${path} has no state dict under "${wanted}"` +
      (available.length > 0 ? `; it has ${available.join(", ")}: pass one of them as checkpointKey` : `; it holds no dict of tensors`),
  );
}

/**
 * Maps a state dict's names onto the model's: drops data-parallel `module.` prefixes and
 * treats a file without `backbone.`/`head.` names as a backbone alone.
 */
export function toModelNames(entries: Entries): { entries: Entries; backboneOnly: boolean } {
  const stripped: Entries = entries.map(([name, t]) => [name.replace(/^(module\.)+/, "").replace(/\.module\./g, "."), t]);
  const wrapped = stripped.some(([name]) => name.startsWith("backbone.") || name.startsWith("head."));
  if (wrapped) return { entries: stripped, backboneOnly: false };
  return { entries: stripped.map(([name, t]) => [`backbone.${name}`, t]), backboneOnly: true };
}
