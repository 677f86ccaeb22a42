// Weights in and out: .pth (torch.save format, written by LibTorch) and .safetensors,
// with the reference's names; what a file holds is mapped onto a model's names here.

import { readSafetensors, writeSafetensors } from "../io/safetensors.js";
import { isStoredTensor, materialize, type StoredTensor, torchLoad } from "../io/torch-load.js";
import { native } from "../native/load.js";
import type { Tensor } from "../tensor.js";

export type Entries = Array<[string, Tensor]>;
export type WeightsFormat = "pth" | "safetensors";

export function formatOf(path: string): WeightsFormat {
  return path.endsWith(".safetensors") ? "safetensors" : "pth";
}

type Group<T> = [string, Array<[string, T]>];

/**
 * The groups of tensors in a .pth file, not yet read: "" for a plain state dict, else one per
 * key of a checkpoint whose value is a dict of tensors ("teacher", "student", ...).
 */
async function storedGroups(path: string): Promise<Array<Group<StoredTensor>>> {
  const root = await torchLoad(path);
  if (!(root instanceof Map)) throw new Error(`${path} does not hold a dict of tensors or a checkpoint dict`);
  const tensorsOf = (dict: Map<unknown, unknown>) =>
    [...dict].filter((entry): entry is [string, StoredTensor] => typeof entry[0] === "string" && isStoredTensor(entry[1]));
  const groups: Array<Group<StoredTensor>> = [];
  const direct = tensorsOf(root);
  if (direct.length > 0) groups.push(["", direct]);
  for (const [key, value] of root) {
    if (typeof key !== "string" || !(value instanceof Map)) continue;
    const nested = tensorsOf(value);
    if (nested.length > 0) groups.push([key, nested]);
  }
  return groups;
}

/** Reads stored tensors into native memory; on a failure, what was read is released. */
async function readAll(stored: Array<[string, StoredTensor]>, path: string): Promise<Entries> {
  const entries: Entries = [];
  try {
    for (const [name, t] of stored) entries.push([name, await materialize(t, `${path}: ${name}`)]);
  } catch (err) {
    for (const [, t] of entries) t.dispose();
    throw err;
  }
  return entries;
}

/** Every group of tensors in a weights file, read (a .safetensors file has one, ""). */
export async function readWeightGroups(path: string): Promise<Array<[string, Entries]>> {
  if (formatOf(path) === "safetensors") return [["", await readSafetensors(path)]];
  const groups: Array<[string, Entries]> = [];
  try {
    for (const [key, stored] of await storedGroups(path)) groups.push([key, await readAll(stored, path)]);
  } catch (err) {
    disposeWeightGroups(groups);
    throw err;
  }
  return groups;
}

/** Releases the tensors readWeightGroups gave. */
export function disposeWeightGroups(groups: Array<[string, Entries]>): void {
  for (const [, entries] of groups) for (const [, t] of entries) t.dispose();
}

/**
 * The state dict that `checkpointKey` selects (see selectStateDict) and the key it was found
 * under, read from the file; the file's other tensors are never read (a checkpoint's
 * optimiser state can be most of a file of many gigabytes).
 */
export async function readStateDict(path: string, checkpointKey?: string | readonly string[]): Promise<{ key: string; entries: Entries }> {
  if (formatOf(path) === "safetensors") return { key: "", entries: await readSafetensors(path) };
  const [key, stored] = selectStateDict(await storedGroups(path), path, checkpointKey);
  return { key, entries: await readAll(stored, path) };
}

export async function writeWeights(path: string, entries: Entries): Promise<void> {
  if (formatOf(path) === "safetensors") return writeSafetensors(path, entries);
  return native().savePth(path, entries);
}

/**
 * The keys under which checkpoints of one network keep it: a fine-tuning checkpoint's (sere
 * finetune's, BEiT's, iBOT's, MAE's), then a Lightning checkpoint's. Like a plain state dict,
 * such a file has no networks to choose from.
 */
const ONE_NETWORK_KEYS = ["model", "state_dict"];

/**
 * The group to load from a file's groups: a checkpoint's `checkpointKey` ("teacher" by
 * default; given a list, the first the file has), or, in a file of tensors alone, those
 * tensors. A file that holds dicts of tensors is a checkpoint, whatever tensors lie beside
 * them (a training checkpoint keeps its generator state there); a plain state dict has no
 * keys to choose from and ignores `checkpointKey`, as DINO's evaluation does, and so does a
 * checkpoint of one network (ONE_NETWORK_KEYS) that has none of the keys asked for.
 */
function selectStateDict<T>(groups: Array<Group<T>>, path: string, checkpointKey: string | readonly string[] = "teacher"): Group<T> {
  const plain = groups.find(([key]) => key === "");
  if (plain && groups.length === 1) return plain;
  const wanted = typeof checkpointKey === "string" ? [checkpointKey] : checkpointKey;
  const found = [...wanted, ...ONE_NETWORK_KEYS].map((key) => groups.find(([k]) => k === key)).find((group) => group !== undefined);
  if (found) return found;
  const available = groups
    .map(([key]) => key)
    .filter((k) => k !== "")
    .map((k) => `"${k}"`);
  throw new Error(
    `${path} has no state dict under ${wanted.map((k) => `"${k}"`).join(" or ")}` +
      (available.length > 0 ? `; it has ${available.join(", ")}: pass one of them as checkpointKey` : `; it holds no dict of tensors`),
  );
}

/**
 * Maps a state dict's names onto the model's: drops data-parallel `module.` prefixes and
 * treats a file without `backbone.`/`head.` names as a backbone alone. A classifier's (timm's
 * names, as sere finetune, BEiT and iBOT write them: blocks.*, then `head.weight`) is a backbone
 * too, without its linear head and the norm of its mean pooling (`fc_norm`), which stands in
 * for the backbone's final `norm` only where the file has none (BEiT's mean pooling drops it).
 */
export function toModelNames(entries: Entries): { entries: Entries; backboneOnly: boolean } {
  const stripped: Entries = entries.map(([name, t]) => [name.replace(/^(module\.)+/, "").replace(/\.module\./g, "."), t]);
  const wrapped = stripped.some(([name]) => name.startsWith("backbone."));
  const classifier = !wrapped && stripped.some(([name]) => name === "head.weight");
  if (!classifier && (wrapped || stripped.some(([name]) => name.startsWith("head.")))) return { entries: stripped, backboneOnly: false };
  const ownNorm = stripped.some(([name]) => name.startsWith("norm."));
  const backbone = classifier
    ? stripped
        .filter(([name]) => !name.startsWith("head.") && !(ownNorm && name.startsWith("fc_norm.")))
        .map(([name, t]): [string, (typeof stripped)[number][1]] => [name.replace(/^fc_norm\./, "norm."), t])
    : stripped;
  return { entries: backbone.map(([name, t]) => [`backbone.${name}`, t]), backboneOnly: true };
}

/** What stored weights say of their architecture (model/options.ts fields). */
export interface StoredLayout {
  /** The side of the square patch grid their position embedding was made for; 0 where there is none. */
  gridSide: number;
  /** The stages of their convolutional stem; 0 for the reference's single patch convolution. */
  convStages: number;
  /** Their patch size: a stem's 2^stages (one stride-2 stage per factor of two), else the patch convolution's kernel; 0 where neither is stored. */
  patchSize: number;
  /** The width of their tokens (cls_token's); 0 where there is none. */
  embedDim: number;
  /** Their blocks. */
  depth: number;
}

/** The layout of weights under the model's names (toModelNames). */
export function layoutOf(entries: Entries): StoredLayout {
  const tokens = entries.find(([name]) => name === "backbone.pos_embed")?.[1].shape()[1] ?? 1;
  const side = Math.round(Math.sqrt(tokens - 1));
  const convStages = entries.filter(([name]) => /^backbone\.patch_embed\.convs\.\d+\.weight$/.test(name)).length;
  const kernel = entries.find(([name]) => name === "backbone.patch_embed.proj.weight")?.[1].shape()[2] ?? 0;
  const patchSize = convStages > 0 ? 2 ** convStages : kernel;
  const embedDim = entries.find(([name]) => name === "backbone.cls_token")?.[1].shape()[2] ?? 0;
  const depth = new Set(entries.map(([name]) => /^backbone\.blocks\.(\d+)\./.exec(name)?.[1]).filter((b) => b !== undefined)).size;
  return { gridSide: side * side === tokens - 1 ? side : 0, convStages, patchSize, embedDim, depth };
}
