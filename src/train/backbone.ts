// The networks a training configuration describes, and the backbone of its checkpoints.
import { parseOptions } from "../config/parse.js";
import { type TrainConfig, trainConfigSchema } from "../config/train.js";
import { torchLoad } from "../io/torch-load.js";
import { Model } from "../model/model.js";

/** The architecture options of a configuration's networks (model/options.ts fields). */
export function architectureOf(config: TrainConfig) {
  return {
    arch: config.arch,
    embedDim: config.embedDim,
    depth: config.depth,
    numHeads: config.numHeads,
    patchSize: config.patchSize,
    imgSize: config.globalCropsSize,
    localHeads: config.localCropsNumber > 0,
    device: config.device,
  };
}

/** The configuration a sere-torch checkpoint stores, or undefined for other weight files. */
export async function storedTrainConfig(checkpoint: string): Promise<TrainConfig | undefined> {
  const root = await torchLoad(checkpoint);
  const text = root instanceof Map ? root.get("config") : undefined;
  if (typeof text !== "string") return undefined;
  return parseOptions(trainConfigSchema, JSON.parse(text), `configuration stored in ${checkpoint}`);
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
