// The backbone to evaluate, from any weights file: a sere-torch training checkpoint (its
// stored configuration gives the architecture), an exported backbone (.pth or
// .safetensors), or a reference (DINO, iBOT, SERE) checkpoint or backbone, whose
// architecture the caller gives.
import { ConfigError, kebab } from "../config/parse.js";
import { Model } from "../model/model.js";
import { ARCHITECTURES, type ModelOptions } from "../model/options.js";
import { formatOf, readStateDict, toModelNames } from "../model/weights.js";
import { loadBackbone, storedTrainConfig } from "../train/backbone.js";
import { countOf } from "../train/plan.js";

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
    return `${loadError}\n${lead}: give the one it was trained with (--arch, --patch-size; with --arch custom --embed-dim, --depth, --num-heads, --mlp-ratio)`;
  }
  const named = Object.entries(ARCHITECTURES).find(([, a]) => a.embedDim === stored.embedDim && a.depth === stored.depth)?.[0];
  const fix = named
    ? `--arch ${named}`
    : `--arch custom --embed-dim ${stored.embedDim} --depth ${stored.depth} --num-heads N (the heads are in no tensor's shape: give the trained count)`;
  return `${lead}, but its weights are ${stored.embedDim} wide in ${countOf(stored.depth, "block")}: give ${fix}`;
}

/** What the stored weights say of their architecture (model/options.ts fields). */
interface StoredLayout {
  /** The side of the square patch grid their position embedding was made for; 0 where there is none. */
  gridSide: number;
  /** The stages of their convolutional stem; 0 for the reference's single patch convolution. */
  convStages: number;
  /** The width of their tokens (cls_token's); 0 where there is none. */
  embedDim: number;
  /** Their blocks. */
  depth: number;
}

/** What the stored weights say of their layout. */
async function storedLayout(path: string, key: string): Promise<StoredLayout> {
  const stored = await readStateDict(path, key);
  try {
    const { entries } = toModelNames(stored.entries);
    const tokens = entries.find(([name]) => name === "backbone.pos_embed")?.[1].shape()[1] ?? 1;
    const side = Math.round(Math.sqrt(tokens - 1));
    const convStages = entries.filter(([name]) => /^backbone\.patch_embed\.convs\.\d+\.weight$/.test(name)).length;
    const embedDim = entries.find(([name]) => name === "backbone.cls_token")?.[1].shape()[2] ?? 0;
    const depth = new Set(entries.map(([name]) => /^backbone\.blocks\.(\d+)\./.exec(name)?.[1]).filter((b) => b !== undefined)).size;
    return { gridSide: side * side === tokens - 1 ? side : 0, convStages, embedDim, depth };
  } finally {
    for (const [, t] of stored.entries) t.dispose();
  }
}
