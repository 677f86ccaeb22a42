import { describe, expect, it } from "vitest";

import { openDataset } from "../../src/data/datasets/open.js";
import { DecodeError } from "../../src/data/decode.js";
import { type Batch, Loader } from "../../src/data/loader.js";
import { liveObjects } from "../../src/index.js";
import { fakeDataset, SMALL_VIEWS, tempDir, writeFolderWithBadFiles, writeIdx } from "./helpers.js";

/** What identifies a batch: its images, records, photometry, masks and pixels. */
function fingerprint(b: Batch) {
  const sum = (t: { toArray(): ArrayLike<number> | BigInt64Array }) => Array.from(t.toArray() as Float32Array).reduce((s, v) => s + v, 0);
  return {
    epoch: b.epoch,
    index: b.index,
    indices: b.indices,
    records: Array.from(b.plan.global.recordTable).concat(Array.from(b.plan.local.recordTable)),
    colour: Array.from(b.plan.global.colour),
    masks: Array.from(b.plan.masks),
    pixels: [sum(b.global).toFixed(3), sum(b.local!).toFixed(3)],
  };
}

async function collect(loader: Loader, epoch: number, limit = Infinity) {
  const out = [];
  for await (const batch of loader.epoch(epoch)) {
    out.push(fingerprint(batch));
    batch.dispose();
    if (out.length >= limit) break;
  }
  return out;
}

const idxDir = (() => {
  const dir = tempDir("loader-idx");
  writeIdx(dir, "train", 22);
  return dir;
})();

describe("the loader", () => {
  it("gives batches of the planned shapes: views, records and masks, view-major", async () => {
    const loader = new Loader(openDataset(idxDir), { batchSize: 4, views: SMALL_VIEWS, seed: 1 });
    expect(loader.batchesPerEpoch()).toBe(5); // 22 images, drop_last
    const before = liveObjects();
    for await (const b of loader.epoch(0)) {
      expect(b.global.shape()).toEqual([8, 3, 32, 32]);
      expect(b.local!.shape()).toEqual([8, 3, 16, 16]);
      expect(b.globalRecords.shape()).toEqual([8, 5]);
      expect(b.localRecords!.shape()).toEqual([8, 5]);
      expect(b.masks.shape()).toEqual([8, 4, 4]);
      expect(b.masks.dtype()).toBe("uint8");
      expect(Array.from(b.labels)).toEqual(b.indices.map((i) => i % 10));
      // Row v * B + b is view v of image b: every record lies inside the 28 x 28 image.
      for (const r of b.plan.global.records) expect(r.x + r.width <= 28 && r.y + r.height <= 28).toBe(true);
      b.dispose();
    }
    expect(liveObjects()).toBe(before);
  });

  it("gives the same batches for the same seed, others for another seed, and reshuffles each epoch", async () => {
    const make = (seed: number) => new Loader(openDataset(idxDir), { batchSize: 4, views: SMALL_VIEWS, seed });
    const a = await collect(make(3), 0);
    expect(await collect(make(3), 0)).toEqual(a);
    expect((await collect(make(4), 0)).map((b) => b.indices)).not.toEqual(a.map((b) => b.indices));
    const twoEpochs = make(3);
    await collect(twoEpochs, 0);
    expect((await collect(twoEpochs, 1)).map((b) => b.indices)).not.toEqual(a.map((b) => b.indices));
  });

  it("continues the same sequence from a state saved mid-epoch (prefetching ahead meanwhile)", async () => {
    const options = { batchSize: 4, views: SMALL_VIEWS, seed: 9, prefetch: 3 };
    const whole = new Loader(openDataset(idxDir), options);
    const epoch0 = await collect(whole, 0);
    const epoch1 = await collect(whole, 1);

    const first = new Loader(openDataset(idxDir), options);
    await collect(first, 0);
    const head = await collect(first, 1, 2); // stops after 2 batches; more were prepared
    const saved = JSON.parse(JSON.stringify(first.state())) as ReturnType<Loader["state"]>;
    expect(saved.epoch).toBe(1);
    expect(saved.batch).toBe(2);

    const resumed = new Loader(openDataset(idxDir), options);
    resumed.restore(saved);
    const tail = await collect(resumed, 1);
    expect([...head, ...tail]).toEqual(epoch1);
    expect(epoch0).not.toEqual(epoch1);
    expect(await collect(resumed, 2)).toEqual(await collect(whole, 2));
    // a position past the epoch's batches (another dataset's, or batch size's) is refused, not an empty epoch
    const count = resumed.batchesPerEpoch();
    expect(() => resumed.restore({ ...saved, batch: count + 1 })).toThrow(
      new RangeError(
        `Loader.restore: batch ${count + 1} is past this loader's ${count} batches an epoch; give a state() of a loader of the same data and batch size`,
      ),
    );
  });

  it("shards by rank: disjoint, equal shares covering the epoch", async () => {
    const d = openDataset(idxDir);
    const ranks = [0, 1, 2].map((rank) => new Loader(d, { batchSize: 2, views: SMALL_VIEWS, rank, worldSize: 3 }).shardOrder(5));
    const all = ranks.flat();
    expect(ranks.map((r) => r.length)).toEqual([7, 7, 7]);
    expect(new Set(all).size).toBe(21);
    expect(() => new Loader(d, { rank: 3, worldSize: 3 })).toThrow(/rank must be smaller than worldSize/);
  });

  it("skips a corrupt JPEG, an empty file and a text file named .png: warns naming each, counts them, goes on", async () => {
    const root = tempDir("bad");
    const { good, bad } = await writeFolderWithBadFiles(root);
    const warnings: string[] = [];
    const loader = new Loader(
      openDataset(root),
      { batchSize: 3, dropLast: false, views: SMALL_VIEWS, maxFailureShare: 0.5 },
      { warn: (m) => warnings.push(m) },
    );
    let images = 0;
    for await (const b of loader.epoch(0)) {
      images += b.images;
      expect(b.global.shape()[0]).toBe(2 * b.images);
      b.dispose();
    }
    expect(images).toBe(good);
    expect(loader.metrics.skipped).toBe(3);
    expect([...loader.metrics.skippedFiles].sort()).toEqual([...bad].sort());
    expect(warnings).toHaveLength(3);
    for (const file of bad) expect(warnings.some((w) => w.includes(file))).toBe(true);
  });

  it("stops with an error naming the problem and the fix when more than the allowed share fails", async () => {
    const root = tempDir("bad-share");
    await writeFolderWithBadFiles(root);
    const loader = new Loader(openDataset(root), { batchSize: 3, dropLast: false, views: SMALL_VIEWS, maxFailureShare: 0.2 }, { warn: () => {} });
    await expect(collect(loader, 0)).rejects.toThrow(
      /more than 20% of this epoch's 9 images failed to decode .*raise the share allowed \(--max-failure-share; maxFailureShare from code\)/,
    );
  });

  it("fails a batch whose images fail while an earlier batch still decodes, with no unhandled rejection", async () => {
    // Batch 0's images decode slowly; batch 1's fail at once, past the allowed share, while
    // batch 0 still holds the planning turn: the failure must reach the consumer, and only it.
    const slowThenBroken = fakeDataset("/slow-then-broken", 9, async (i) => {
      if (i >= 3) throw new DecodeError(`image ${i}`, "broken on purpose");
      await new Promise((resolve) => setTimeout(resolve, 300));
      return { width: 32, height: 32, data: new Uint8Array(32 * 32 * 3) };
    });
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", record);
    try {
      const loader = new Loader(
        slowThenBroken,
        { batchSize: 3, shuffle: false, dropLast: false, views: SMALL_VIEWS, maxFailureShare: 0.2, prefetch: 2, decodeConcurrency: 8 },
        { warn: () => {} },
      );
      await expect(collect(loader, 0)).rejects.toThrow(/more than 20% of this epoch's 9 images failed to decode/);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", record);
    }
  });

  it("says nothing more of the images that fail once the failures have stopped the pass", async () => {
    const broken = fakeDataset("/broken", 9, async (i) => {
      throw new DecodeError(`image ${i}`, "broken on purpose");
    });
    const warnings: string[] = [];
    const loader = new Loader(
      broken,
      { batchSize: 3, shuffle: false, dropLast: false, views: SMALL_VIEWS, maxFailureShare: 0.2, prefetch: 2, decodeConcurrency: 8 },
      { warn: (m) => warnings.push(m) },
    );
    // the latest with its reason: a pass of one bad image stops on it, and says why
    await expect(collect(loader, 0)).rejects.toThrow(
      /more than 20% of this epoch's 9 images failed to decode \(2 so far, the latest image \d \(broken on purpose\)\); fix or remove/,
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    // 20% of 9 allows one: the first two are named, the second stops the pass, the rest are silent
    expect(warnings).toEqual([
      "skipping an image that cannot be decoded: cannot decode image 0: broken on purpose",
      "skipping an image that cannot be decoded: cannot decode image 1: broken on purpose",
    ]);
  });

  it("rejects bad options with the option's name", () => {
    const d = openDataset(idxDir);
    expect(() => new Loader(d, { batchSize: 0 })).toThrow(/batchSize/);
    expect(() => new Loader(d, { views: { globalSize: 30, patchSize: 16 } })).toThrow(/multiple of patchSize/);
    expect(() => new Loader(d, { batchSize: 64 })).toThrow(/too few for one batch of 64/);
    // a path in the dataset's place
    expect(() => new Loader(idxDir as never, { batchSize: 8 })).toThrow(
      `Loader: the dataset must be a Dataset, given the path ${JSON.stringify(idxDir)}: open it first, with openDataset(${JSON.stringify(idxDir)})`,
    );
    expect(() => new Loader(undefined as never)).toThrow("Loader: the dataset must be a Dataset (from openDataset(path)), given undefined");
  });

  it("refuses an epoch that is no whole number from 0", async () => {
    const loader = new Loader(openDataset(idxDir), { batchSize: 4 });
    for (const epoch of [-1, Number.NaN, 0.5]) {
      await expect(loader.epoch(epoch).next()).rejects.toThrow(`Loader.epoch(epoch): epoch must be a whole number from 0, given ${epoch}`);
    }
  });
});
