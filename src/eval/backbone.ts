// The backbone to evaluate, from any weights file: a sere-torch training checkpoint (its
// stored configuration gives the architecture), an exported backbone (.pth or
// .safetensors), or a reference (DINO, iBOT, SERE) checkpoint or backbone, whose
// architecture the caller gives.
import { ConfigError, kebab } from "../config/parse.js";
import { Model } from "../model/model.js";
import type { ModelOptions } from "../model/options.js";
import { formatOf, readStateDict, toModelNames } from "../model/weights.js";
import { loadBackbone, storedTrainConfig } from "../train/backbone.js";

/** The architecture of weights that do not carry theirs (model/options.ts fields). */
export type Architecture = Pick<ModelOptions, "arch" | "embedDim" | "depth" | "numHeads" | "mlpRatio" | "patchSize">;

export interface BackboneSource {
  /** The network of a training checkpoint: "teacher" (default) or "student"; a plain state dict has none and ignores it. */
  checkpointKey?: string;
  /** Used when the file stores no configuration; default vit_small/16. */
  architecture?: Architecture;
  device?: string;
}

export interface OpenedBackbone {
  model: Model;
  /** The input side the weights were trained at: the configuration's, else the position embedding's, else 224. */
  trainedSize: number;
}

/** The backbone of the weights in `path`, with no head. */
export async function openBackbone(path: string, source: BackboneSource = {}): Promise<OpenedBackbone> {
  const key = source.checkpointKey ?? "teacher";
  const device = source.device ?? "cpu";
  const config = formatOf(path) === "pth" ? await storedTrainConfig(path) : undefined;
  if (config) return { model: await loadBackbone({ ...config, device }, path, key), trainedSize: config.globalCropsSize };

  const architecture = source.architecture ?? {};
  if (architecture.arch === "custom" && [architecture.embedDim, architecture.depth, architecture.numHeads].includes(undefined)) {
    throw new ConfigError(`${path} stores no architecture, and arch "custom" needs embedDim, depth and numHeads (--embed-dim, --depth, --num-heads)`);
  }
  const stored = await storedLayout(path, key);
  // A convolutional stem is in the weights' names, and gives its patch size away: one
  // stride-2 stage per factor of two.
  const convStem = stored.convStages > 0;
  const patchSize = convStem ? 2 ** stored.convStages : (architecture.patchSize ?? 16);
  const trainedSize = stored.gridSide * patchSize || 224;
  const model = Model.create({ ...architecture, patchSize, convStem, imgSize: trainedSize, head: false, device });
  try {
    await model.load(path, { checkpointKey: key });
  } catch (err) {
    model.dispose();
    const given = Object.entries({ ...architecture, arch: architecture.arch ?? "vit_small", patchSize })
      .filter(([, value]) => value !== undefined)
      .map(([name, value]) => `--${kebab(name)} ${String(value)}`);
    throw new Error(
      `${(err as Error).message}\n${path} stores no architecture, so it was read as ${given.join(" ")}: ` +
        "give the one it was trained with (--arch, --patch-size; with --arch custom --embed-dim, --depth, --num-heads, --mlp-ratio)",
    );
  }
  return { model, trainedSize };
}

/**
 * What the stored weights say of their layout: the side of the square patch grid their position
 * embedding was made for (0 when there is none) and the stages of their convolutional stem (0
 * for the reference's single patch convolution).
 */
async function storedLayout(path: string, key: string): Promise<{ gridSide: number; convStages: number }> {
  const stored = await readStateDict(path, key);
  try {
    const { entries } = toModelNames(stored.entries);
    const tokens = entries.find(([name]) => name === "backbone.pos_embed")?.[1].shape()[1] ?? 1;
    const side = Math.round(Math.sqrt(tokens - 1));
    const convStages = entries.filter(([name]) => /^backbone\.patch_embed\.convs\.\d+\.weight$/.test(name)).length;
    return { gridSide: side * side === tokens - 1 ? side : 0, convStages };
  } finally {
    for (const [, t] of stored.entries) t.dispose();
  }
}
