import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";

import { attentionMaps } from "../../src/eval/attention.js";
import { Model } from "../../src/index.js";

describe("attention maps", () => {
  it("writes one overlay per head and the mean at the image's size, and a panel strip", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-attn-"));
    // a 40 x 24 image: a bright square on a dark ground
    const width = 40;
    const height = 24;
    const pixels = Buffer.alloc(width * height * 3, 20);
    for (let y = 4; y < 12; y++) for (let x = 8; x < 20; x++) pixels.fill(230, (y * width + x) * 3, (y * width + x) * 3 + 3);
    const path = join(dir, "square.png");
    await sharp(pixels, { raw: { width, height, channels: 3 } })
      .png()
      .toFile(path);

    const model = Model.create({ arch: "custom", embedDim: 24, depth: 2, numHeads: 3, patchSize: 8, imgSize: 32, head: false, seed: 1 });
    const result = await attentionMaps(model, path, join(dir, "out"));
    // a path that is not an image file is named as such
    await expect(attentionMaps(model, join(dir, "nope.png"), join(dir, "out"))).rejects.toThrow(
      `${join(dir, "nope.png")}: there is no such file; give the path of an image file`,
    );
    await expect(attentionMaps(model, dir, join(dir, "out"))).rejects.toThrow(`${dir} is a folder, not an image file`);
    model.dispose();
    expect(result.heads).toBe(3);
    expect(result.files).toHaveLength(4); // three heads and the mean
    for (const file of result.files) {
      const meta = await sharp(file).metadata();
      expect([meta.width, meta.height, meta.format]).toEqual([40, 24, "png"]);
    }
    const strip = await sharp(result.panels).metadata();
    expect([strip.width, strip.height]).toEqual([40 * 5, 24]); // image, 3 heads, mean
  });

  it("shrinks a large photo to DINO's 480 px shorter side, and refuses a size whose attention would not fit in memory", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-attn-big-"));
    const path = join(dir, "photo.png");
    await sharp({ create: { width: 6000, height: 4000, channels: 3, background: "#468" } })
      .png()
      .toFile(path);
    const model = Model.create({ arch: "custom", embedDim: 24, depth: 1, numHeads: 3, patchSize: 16, imgSize: 32, head: false, seed: 1 });
    try {
      // whole, it would be 93,750 patches and 98 GiB of attention
      const shrunk = await attentionMaps(model, path, join(dir, "out"));
      expect([shrunk.width, shrunk.height]).toEqual([720, 480]);
      await expect(attentionMaps(model, path, join(dir, "out"), { shortSide: 2000 })).rejects.toThrow(
        `${path} at a shorter side of 2000 px is 2992 x 2000 px, 23,375 patches: the last block's attention (3 heads x tokens²) would take 6.1 GiB, ` +
          "more than the 2.0 GiB allowed; give a shorter side of at most 1504 px (shortSide: 1504)",
      );
      // what it suggests fits, 16 px more does not: 3 heads x (patches + 1)² floats against 2 GiB
      const bytes = (side: number) => 3 * (Math.floor((side * 1.5) / 16) * Math.floor(side / 16) + 1) ** 2 * 4;
      expect([bytes(1504) <= 2 * 1024 ** 3, bytes(1520) <= 2 * 1024 ** 3]).toEqual([true, false]);
      // a bad option is named as such, not blamed on the image
      for (const shortSide of [-5, 0, 1.5]) {
        await expect(attentionMaps(model, path, join(dir, "out"), { shortSide })).rejects.toThrow(/^invalid attention map options:\n {2}shortSide: /);
      }
      await expect(attentionMaps(model, path, join(dir, "out"), { shortSide: 8 })).rejects.toThrow(`${path} is smaller than one 16-pixel patch`);
    } finally {
      model.dispose();
    }
  });
});
