// The backbone to evaluate, from any weights file: a sere-torch training checkpoint (its
// stored configuration gives the architecture), a sere-torch fine-tuning checkpoint (its
// classifier without the head; it stores its architecture too), an exported backbone (.pth or
// .safetensors), or a reference (DINO, iBOT, SERE) checkpoint or backbone, whose
// architecture the caller gives.
import { z } from "zod";

import { ConfigError, kebab, parseOptions } from "../config/parse.js";
import { requirePath } from "../io/input-file.js";
import { torchLoad } from "../io/torch-load.js";
import { Model } from "../model/model.js";
import { ARCHITECTURES, deviceSchema, type ModelOptions, modelOptionsSchema } from "../model/options.js";
import { formatOf, layoutOf, readStateDict, type StoredLayout, toModelNames } from "../model/weights.js";
import { loadBackbone, storedTrainConfig } from "../train/backbone.js";
import { countOf } from "../train/plan.js";

/** The architecture of weights that do not carry theirs (model/options.ts fields). */
export type Architecture = Pick<ModelOptions, "arch" | "embedDim" | "depth" | "numHeads" | "mlpRatio" | "patchSize">;

const backboneSourceSchema = z.object({
  /** The network of a training checkpoint: "teacher" (default) or "student"; a plain state dict has none and ignores it. */
  checkpointKey: z.string().default("teacher"),
  /** Used when the file stores no configuration; default vit_small/16. Model.create checks its fields. */
  architecture: z.custom<Architecture>((value) => typeof value === "object" && value !== null, "must be an object of model options").optional(),
  device: deviceSchema,
});
export type BackboneSource = z.input<typeof backboneSourceSchema>;

export interface OpenedBackbone {
  model: Model;
  /** The input side the weights were trained at: the configuration's, else the position embedding's, else 224. */
  trainedSize: number;
}

/** The backbone of the weights in `path`, with no head. */
export async function openBackbone(path: string, source: BackboneSource = {}): Promise<OpenedBackbone> {
  requirePath(path, "openBackbone", "the weights (a checkpoint.pth, or a backbone's .pth or .safetensors file)");
  const {
    checkpointKey: key,
    device,
    architecture: given,
  } = parseOptions(backboneSourceSchema, source, "backbone source", { knownFieldsOnly: true });
  const config = formatOf(path) === "pth" ? await storedTrainConfig(path) : undefined;
  if (config) return { model: await loadBackbone({ ...config, device }, path, key), trainedSize: config.globalCropsSize };

  const architecture = (formatOf(path) === "pth" ? await storedNetwork(path) : undefined) ?? given ?? {};
  if (architecture.arch === "custom" && [architecture.embedDim, architecture.depth, architecture.numHeads].includes(undefined)) {
    throw new ConfigError(`${path} stores no architecture, and arch "custom" needs embedDim, depth and numHeads (--embed-dim, --depth, --num-heads)`);
  }
  const stored = await storedLayout(path, key);
  // The weights' shapes give their patch size and stem away; the caller's patch size is for
  // weights without a patch embedding.
  const convStem = stored.convStages > 0;
  const patchSize = stored.patchSize || (architecture.patchSize ?? 16);
  const trainedSize = stored.gridSide * patchSize || 224;
  const model = Model.create({ ...architecture, patchSize, convStem, imgSize: trainedSize, head: false, device });
  try {
    await model.load(path, { checkpointKey: key });
  } catch (err) {
    model.dispose();
    throw new Error(describeMisfit(path, { ...architecture, patchSize }, stored, (err as Error).message));
  }
  return { model, trainedSize };
}

/**
 * Why weights without an architecture did not load into the one assumed: where their width and
 * depth say which architecture they are, that (the heads are in no tensor's shape); else the
 * loader's list of the tensors that do not fit.
 */
function describeMisfit(path: string, assumed: Architecture, stored: StoredLayout, loadError: string): string {
  const { arch = "vit_small", ...rest } = assumed;
  const given = Object.entries({ arch, ...rest })
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `--${kebab(name)} ${String(value)}`);
  const preset = assumed.arch && assumed.arch !== "custom" ? ARCHITECTURES[assumed.arch] : ARCHITECTURES.vit_small;
  const width = assumed.arch === "custom" ? assumed.embedDim : preset.embedDim;
  const depth = assumed.arch === "custom" ? assumed.depth : preset.depth;
  const lead = `${path} stores no architecture, so it was read as ${given.join(" ")}`;
  if (stored.embedDim === 0 || (stored.embedDim === width && stored.depth === depth)) {
    return `${loadError}\n${lead}: give the one it was trained with (--arch; with --arch custom --embed-dim, --depth, --num-heads, --mlp-ratio)`;
  }
  const named = Object.entries(ARCHITECTURES).find(([, a]) => a.embedDim === stored.embedDim && a.depth === stored.depth)?.[0];
  const fix = named
    ? `--arch ${named}`
    : `--arch custom --embed-dim ${stored.embedDim} --depth ${stored.depth} --num-heads N (the heads are in no tensor's shape: give the trained count)`;
  return `${lead}, but its weights are ${stored.embedDim} wide in ${countOf(stored.depth, "block")}: give ${fix}`;
}

/** The architecture a fine-tuning checkpoint (sere finetune's) stores beside its network; undefined for other files. */
async function storedNetwork(path: string): Promise<Architecture | undefined> {
  const root = await torchLoad(path);
  const network = root instanceof Map ? root.get("network") : undefined;
  if (typeof network !== "string") return undefined;
  let fields: unknown;
  try {
    fields = JSON.parse(network);
  } catch (err) {
    throw new ConfigError(`${path}: its stored architecture is not JSON (${(err as Error).message}); the file is corrupt`);
  }
  const { arch, embedDim, depth, numHeads, mlpRatio, patchSize } = parseOptions(modelOptionsSchema, fields, `${path}: its stored architecture`);
  return { arch, embedDim, depth, numHeads, mlpRatio, patchSize };
}

/** What the stored weights say of their layout. */
async function storedLayout(path: string, key: string): Promise<StoredLayout> {
  const stored = await readStateDict(path, key);
  try {
    return layoutOf(toModelNames(stored.entries).entries);
  } finally {
    for (const [, t] of stored.entries) t.dispose();
  }
}
