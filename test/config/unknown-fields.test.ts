// Options given from code refuse a field their schema does not know, as the training and
// fine-tuning configurations do: a misspelt name must not leave a default in its place.
import { describe, expect, it } from "vitest";

import { Loader } from "../../src/data/loader.js";
import { openBackbone } from "../../src/eval/backbone.js";
import { extractFeatures, pixelFeatures } from "../../src/eval/features.js";
import { knnAccuracy } from "../../src/eval/knn.js";
import { knnEvaluation } from "../../src/eval/knn-eval.js";
import { linearProbe } from "../../src/eval/linear-probe.js";
import { Model } from "../../src/model/model.js";
import { SereObjective } from "../../src/objective/objective.js";
import { tensor } from "../../src/tensor.js";
import { exportBackbone } from "../../src/train/export.js";
import { fakeDataset } from "../data/helpers.js";

// Each option object with a misspelt field; the validation runs before any work.
const features = { features: tensor(new Float32Array(8), [4, 2]), labels: tensor(new BigInt64Array(4), [4]) };
const dataset = fakeDataset("/images", 8, () => Promise.reject(new Error("not read")));

describe("options from code", () => {
  it("refuse a field they do not know, with the fields it may have meant", async () => {
    expect(() => Model.create({ arch: "vit_tiny", patchsize: 8 } as never)).toThrow(
      /^invalid model options:\n {2}patchsize: no such field; did you mean patchSize\? \(given: 8\)$/,
    );
    expect(() => new SereObjective({ outDim: 4, alpha1: 0.5 } as never)).toThrow(
      /invalid SereObjective options:\n {2}alpha1: no such field; did you mean alpha/,
    );
    expect(() => new Loader(dataset, { batchSize: 2, batch_size: 4 } as never)).toThrow(
      /invalid loader options:\n {2}batch_size: no such field; did you mean batchSize/,
    );
    await expect(knnAccuracy(features, features, { k: [2] } as never)).rejects.toThrow(
      /invalid k-NN options:\n {2}k: no such field; did you mean ks/,
    );
    await expect(linearProbe(features, features, { lr: 0.1, onProgress: () => {} } as never)).rejects.toThrow(
      /invalid linear probe options:\n {2}lr: no such field; did you mean lrs/,
    );
    // checked before any file is read: these paths do not exist
    const model = Model.create({ arch: "custom", embedDim: 8, depth: 1, numHeads: 2, patchSize: 8, imgSize: 16, head: false });
    await expect(model.load("/nowhere.pth", { checkpoint: "student" } as never)).rejects.toThrow(
      /invalid load options:\n {2}checkpoint: no such field; did you mean checkpointKey\?/,
    );
    await expect(model.save("/nowhere.pth", { part: "head" } as never)).rejects.toThrow(/invalid save options:\n {2}part: Invalid option/);
    model.dispose();
    await expect(exportBackbone("/nowhere.pth", { output_dir: "/x" } as never)).rejects.toThrow(
      /invalid export options:\n {2}output_dir: no such field; did you mean outputDir\?/,
    );
    await expect(openBackbone("/nowhere.pth", { checkpoint_key: "student" } as never)).rejects.toThrow(
      /invalid backbone source:\n {2}checkpoint_key: no such field; did you mean checkpointKey\?/,
    );
    // the dataset is never read: its images reject
    await expect(extractFeatures(dataset, pixelFeatures, { size: 16, imageSize: 16, warn: () => {} } as never)).rejects.toThrow(
      /invalid feature options:\n {2}imageSize: no such field; did you mean size\? \(given: 16\)$/,
    );
    await expect(extractFeatures(dataset, pixelFeatures, { normalisation: { mean: [0, 0, 0], std: [1, 0, 1] } })).rejects.toThrow(
      /normalisation\.std: must be positive/,
    );
    // a limit of one split only: the evaluation's are trainLimit and testLimit (it used to drop `limit`)
    await expect(knnEvaluation("/usr/share/datasets/fashion-mnist", pixelFeatures, { limit: 100 } as never)).rejects.toThrow(
      /invalid k-NN evaluation options:\n {2}limit: no such field; did you mean testLimit, trainLimit\?/,
    );
  });

  it("take their known fields as before", async () => {
    const loader = new Loader(dataset, { batchSize: 2 });
    expect(loader.batchesPerEpoch()).toBe(4);
    const knn = await knnAccuracy(features, features, { ks: [2], numClasses: 1 });
    expect(knn.map((r) => r.k)).toEqual([2]);
  });
});
