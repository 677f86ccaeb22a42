// The backbone a training configuration describes, loaded from one of its checkpoints.
import type { TrainConfig } from "../config/train.js";
import { Model } from "../model/model.js";

/** The `key` ("teacher" or "student") backbone of a training checkpoint, without its head. */
export async function loadBackbone(config: TrainConfig, checkpoint: string, key = "teacher"): Promise<Model> {
  const model = Model.create({
    arch: config.arch,
    embedDim: config.embedDim,
    depth: config.depth,
    numHeads: config.numHeads,
    patchSize: config.patchSize,
    imgSize: config.globalCropsSize,
    localHeads: config.localCropsNumber > 0,
    maskedImModeling: key === "student",
    device: config.device,
    head: false,
  });
  try {
    await model.load(checkpoint, { checkpointKey: key, backboneOnly: true });
    return model;
  } catch (err) {
    model.dispose();
    throw err;
  }
}
