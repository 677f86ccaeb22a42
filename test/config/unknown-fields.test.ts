// Options given from code refuse a field their schema does not know, as the training and
// fine-tuning configurations do: a misspelt name must not leave a default in its place.
import { describe, expect, it } from "vitest";

import { Loader } from "../../src/data/loader.js";
import { knnAccuracy } from "../../src/eval/knn.js";
import { linearProbe } from "../../src/eval/linear-probe.js";
import { Model } from "../../src/model/model.js";
import { SereObjective } from "../../src/objective/objective.js";
import { tensor } from "../../src/tensor.js";
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
  });

  it("take their known fields as before", async () => {
    const loader = new Loader(dataset, { batchSize: 2 });
    expect(loader.batchesPerEpoch()).toBe(4);
    const knn = await knnAccuracy(features, features, { ks: [2], numClasses: 1 });
    expect(knn.map((r) => r.k)).toEqual([2]);
  });
});
