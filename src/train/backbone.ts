// The networks a training configuration describes, and the backbone of its checkpoints.
import { ConfigError, parseOptions } from "../config/parse.js";
import { type TrainConfig, trainConfigSchema } from "../config/train.js";
import { isStoredTensor, torchLoad } from "../io/torch-load.js";
import { Model } from "../model/model.js";
import { modelOptionsSchema } from "../model/options.js";

/** The architecture options of a configuration's networks (model/options.ts fields). */
export function architectureOf(config: TrainConfig) {
  return {
    arch: config.arch,
    embedDim: config.embedDim,
    depth: config.depth,
    numHeads: config.numHeads,
    patchSize: config.patchSize,
    convStem: config.convStem,
    imgSize: config.globalCropsSize,
    localHeads: config.localCropsNumber > 0,
    device: config.device,
  };
}

/** The fields of a configuration that give its networks' tensors their shapes (architectureOf's and the heads'). */
export const NETWORK_SHAPE_FIELDS = [
  "arch",
  "embedDim",
  "depth",
  "numHeads",
  "patchSize",
  "convStem",
  "globalCropsSize",
  "outDim",
  "hiddenDim",
  "bottleneckDim",
  "sharedHead",
  "sharedHeadTeacher",
] as const satisfies ReadonlyArray<keyof TrainConfig>;

/**
 * The configuration a sere-torch checkpoint stores, or undefined for other weight files. It
 * is checked against the shapes of the stored networks: a model is built from it before any
 * weight is loaded, so a corrupt one (embedDim 32768, depth 48) would otherwise allocate
 * whatever it claims.
 */
export async function storedTrainConfig(checkpoint: string): Promise<TrainConfig | undefined> {
  const root = await torchLoad(checkpoint);
  if (!(root instanceof Map) || typeof root.get("config") !== "string") return undefined;
  const networks = ["teacher", "student"].filter((key) => root.get(key) instanceof Map);
  // a fine-tuning checkpoint: its network is read as a classifier's state dict (model/weights.ts)
  if (networks.length === 0 && root.get("model") instanceof Map) return undefined;
  let fields: unknown;
  try {
    fields = JSON.parse(root.get("config") as string);
  } catch (err) {
    throw new ConfigError(`${checkpoint}: its stored configuration is not JSON (${(err as Error).message}); the file is corrupt`);
  }
  const config = parseOptions(trainConfigSchema, fields, `configuration stored in ${checkpoint}`);
  if (networks.length === 0) throw new ConfigError(`${checkpoint} stores a configuration but no "teacher" or "student" weights`);
  for (const key of networks) {
    checkArchitecture(config, root.get(key) as Map<unknown, unknown>, `${checkpoint}: its stored configuration does not match its "${key}" weights`);
  }
  return config;
}

/** Throws `mismatch: ...` naming the first field of the configuration the stored backbone contradicts. */
function checkArchitecture(config: TrainConfig, weights: Map<unknown, unknown>, mismatch: string): void {
  const model = parseOptions(modelOptionsSchema, { ...architectureOf(config), head: false }, mismatch);
  const { embedDim, patchSize, convStem } = model;
  const grid = model.imgSize / patchSize;
  const shapeOf = (name: string) => {
    const t = weights.get(`backbone.${name}`);
    return isStoredTensor(t) ? t.shape : undefined;
  };
  // [field as configured, tensor, the size the field implies, the tensor's dimension holding it]
  const checks: Array<[string, string, number, number]> = [
    [`embedDim ${embedDim}`, "cls_token", embedDim, 2],
    [`embedDim ${embedDim}`, "patch_embed.proj.weight", embedDim, 0],
    [`embedDim ${embedDim}`, "pos_embed", embedDim, 2],
    // A convolutional stem ends in a 1x1 projection after log2(patchSize) stages.
    convStem
      ? [`patchSize ${patchSize} with convStem`, `patch_embed.convs.${Math.log2(patchSize) - 1}.weight`, embedDim, 0]
      : [`patchSize ${patchSize}`, "patch_embed.proj.weight", patchSize, 2],
    [`globalCropsSize ${config.globalCropsSize} (${grid} x ${grid} patches)`, "pos_embed", 1 + grid * grid, 1],
  ];
  for (const [field, name, size, dim] of checks) {
    const shape = shapeOf(name);
    if (!shape) throw new ConfigError(`${mismatch}: they have no backbone.${name}`);
    if (shape[dim] !== size) throw new ConfigError(`${mismatch}: ${field} does not fit backbone.${name} of shape [${shape.join(", ")}]`);
  }
  const blocks = new Set([...weights.keys()].map((name) => /^backbone\.blocks\.(\d+)\./.exec(String(name))?.[1]).filter((i) => i !== undefined));
  if (blocks.size !== model.depth) throw new ConfigError(`${mismatch}: depth ${model.depth} does not fit the ${blocks.size} blocks stored`);
}

/** The `key` ("teacher" or "student") backbone of a training checkpoint, without its head. */
export async function loadBackbone(config: TrainConfig, checkpoint: string, key = "teacher"): Promise<Model> {
  const model = Model.create({ ...architectureOf(config), maskedImModeling: key === "student", head: false });
  try {
    await model.load(checkpoint, { checkpointKey: key, backboneOnly: true });
    return model;
  } catch (err) {
    model.dispose();
    throw err;
  }
}
