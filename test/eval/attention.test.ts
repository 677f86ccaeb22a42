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
});
