// `using` on native objects, and native memory V8 knows of: tensors JS forgot to dispose are
// collected when they hold much memory, not only when the (tiny) JS objects add up.
import { describe, expect, it } from "vitest";

import { openDataset } from "../../src/data/datasets/open.js";
import { Loader } from "../../src/data/loader.js";
import { liveObjects, tensor } from "../../src/index.js";
import { Model } from "../../src/model/model.js";
import { SereObjective } from "../../src/objective/objective.js";
import type { Tensor } from "../../src/tensor.js";
import { SMALL_VIEWS, tempDir, writeIdx } from "../data/helpers.js";

describe("using", () => {
  it("disposes tensors, models and objectives at the end of the scope", () => {
    const before = liveObjects();
    let kept: Tensor | undefined;
    {
      using t = tensor(new Float32Array(4), [2, 2]);
      using m = Model.create({ arch: "custom", embedDim: 8, depth: 1, numHeads: 2, patchSize: 4, imgSize: 8, head: false });
      using o = new SereObjective({ outDim: 8 });
      using copy = t.reshape([4]);
      kept = copy;
      expect([m, o]).toHaveLength(2);
      expect(liveObjects()).toBeGreaterThan(before);
    }
    expect(kept.isDisposed()).toBe(true);
    expect(liveObjects()).toBe(before);
  });

  it("disposes a loader's batches", async () => {
    const dir = tempDir("using-batch");
    writeIdx(dir, "train", 8);
    const loader = new Loader(openDataset(dir), { batchSize: 4, views: SMALL_VIEWS, seed: 1 });
    const before = liveObjects();
    for await (const batch of loader.epoch(0)) {
      using b = batch;
      expect(b.global.shape()[0]).toBe(8);
    }
    expect(liveObjects()).toBe(before);
  });

  it("disposes on the way out of a throwing scope", () => {
    let kept: Tensor | undefined;
    expect(() => {
      using t = tensor(new Float32Array(1), [1]);
      kept = t;
      throw new Error("boom");
    }).toThrow("boom");
    expect(kept!.isDisposed()).toBe(true);
  });
});

describe("native memory and the garbage collector", () => {
  it("tensors left undisposed are collected by the memory they hold: RSS stays bounded", async () => {
    const mb = 32;
    const source = tensor(new Float32Array((mb << 20) / 4), [(mb << 20) / 4]);
    const rss = () => process.memoryUsage().rss / 2 ** 20;
    const start = rss();
    let peak = start;
    // 64 copies: 2 GiB made natively, none disposed; a tiny JS object each. Without V8 told of
    // their memory it sees nothing worth collecting (stop at 1 GiB rather than fill the machine).
    for (let i = 0; i < 64 && peak - start < 1024; i++) {
      source.reshape([(mb << 20) / 4]); // a native copy, dropped at once
      await new Promise((r) => setImmediate(r)); // finalizers run between turns of the event loop
      peak = Math.max(peak, rss());
    }
    source.dispose();
    expect(peak - start).toBeLessThan(512);
  });
});
