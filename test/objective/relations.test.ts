// Relations and their resampling: the facts about relations of docs/method.md#facts-to-test-against.
import { describe, expect, it } from "vitest";

import { channelRelation, overlapGrids, sampleMap, sampleRelation, spatialRelation, tensor } from "../../src/index.js";
import { expectAllClose, filled, normals, values } from "./helpers.js";

describe("relations", () => {
  it("the channel relation is the mean over positions of z_n z_n^T", async () => {
    const B = 2,
      D = 3,
      n = 3,
      N = n * n;
    const rnd = normals(7);
    const x = filled([B, D, n, n], () => rnd());
    const z = values(x);
    const relation = values(await channelRelation(x));
    const expected: number[] = [];
    for (let b = 0; b < B; b++)
      for (let i = 0; i < D; i++)
        for (let j = 0; j < D; j++) {
          let sum = 0;
          for (let p = 0; p < N; p++) sum += z[(b * D + i) * N + p]! * z[(b * D + j) * N + p]!;
          expected.push(sum / N);
        }
    expectAllClose(relation, expected, 1e-5);
    // with an explicit scale s: (x / s)(x / s)^T
    expectAllClose(
      values(await channelRelation(x, 2)),
      expected.map((v) => (v * N) / 4),
      1e-5,
    );
    x.dispose();
  });

  it("the spatial relation splits channels into heads: x x^T * d^-0.5", async () => {
    const B = 1,
      H = 2,
      d = 2,
      N = 4;
    const rnd = normals(3);
    const x = filled([B, H * d, N], () => rnd());
    const z = values(x);
    const r = await spatialRelation(x, H);
    expect(r.shape()).toEqual([B, H, N, N]);
    const expected: number[] = [];
    for (let h = 0; h < H; h++)
      for (let p = 0; p < N; p++)
        for (let q = 0; q < N; q++) {
          let sum = 0;
          for (let c = 0; c < d; c++) sum += z[(h * d + c) * N + p]! * z[(h * d + c) * N + q]!;
          expected.push(sum / Math.sqrt(d));
        }
    expectAllClose(values(r), expected, 1e-5);
    await expect(Promise.resolve().then(() => spatialRelation(x, 3))).rejects.toThrow("4 channels do not split into 3 heads");
    x.dispose();
  });

  it("resampling a relation equals the relation of the grid-sampled features (bilinear sampling is linear)", async () => {
    const B = 2,
      H = 2,
      D = 8,
      n = 5,
      s = 4;
    const rnd = normals(11);
    const x = filled([B, D, n, n], () => rnd());
    const { query, key } = overlapGrids(
      [
        { x: 0, y: 0, width: 100, height: 100, flipped: false },
        { x: 10, y: 30, width: 60, height: 50, flipped: true },
      ],
      [
        { x: 20, y: 10, width: 70, height: 80, flipped: true },
        { x: 0, y: 0, width: 90, height: 90, flipped: false },
      ],
      s,
    );
    const relation = await spatialRelation(x, H);
    const resampled = await sampleRelation(relation, query, query); // one grid on both axes
    const sampledFeatures = await sampleMap(x, query); // (B, D, s, s)
    const direct = await spatialRelation(sampledFeatures, H);
    expect(resampled.shape()).toEqual([B, H, s * s, s * s]);
    expectAllClose(values(resampled), values(direct), 1e-5);
    for (const t of [x, query, key, relation, resampled, sampledFeatures, direct]) t.dispose();
  });

  it("has the ViT-S/16 shapes at B = 4: aligned (8, 6, 169, 169) from raw (8, 6, 196, 196)", async () => {
    const raw = tensor(new Float32Array(8 * 6 * 196 * 196), [8, 6, 196, 196]);
    const crops = Array.from({ length: 8 }, (_, i) => ({ x: i, y: 0, width: 150, height: 150, flipped: i % 2 === 1 }));
    const g = overlapGrids(crops, crops.slice().reverse(), 13);
    const aligned = await sampleRelation(raw, g.query, g.key);
    expect(aligned.shape()).toEqual([8, 6, 169, 169]);
    const local = tensor(new Float32Array(16 * 6 * 36 * 36), [16, 6, 36, 36]);
    const lg = overlapGrids(Array(16).fill(crops[0]), Array(16).fill(crops[1]), 6);
    expect((await sampleRelation(local, lg.query, lg.key)).shape()).toEqual([16, 6, 36, 36]);
    const z = tensor(new Float32Array(8 * 384 * 196), [8, 384, 14, 14]);
    expect((await channelRelation(z)).shape()).toEqual([8, 384, 384]);
    expect((await spatialRelation(z, 6)).shape()).toEqual([8, 6, 196, 196]);
    for (const t of [raw, aligned, local, z, g.query, g.key, lg.query, lg.key]) t.dispose();
  });

  it("rejects inconsistent shapes, naming the argument", () => {
    const r = tensor(new Float32Array(2 * 10 * 10), [2, 1, 10, 10]);
    const grid = tensor(new Float32Array(2 * 3 * 3 * 2), [2, 3, 3, 2]);
    const oneGrid = tensor(new Float32Array(3 * 3 * 2), [1, 3, 3, 2]);
    expect(() => sampleRelation(r, grid, grid)).toThrow("N = 10 positions do not form a square n x n map");
    const square = tensor(new Float32Array(2 * 9 * 9), [2, 1, 9, 9]);
    expect(() => sampleRelation(square, oneGrid, grid)).toThrow(
      "queryGrid must have shape (M, sq, sq, 2), got [1, 3, 3, 2]: dimension 0 (M) is 1 but M = 2 elsewhere",
    );
    expect(() => channelRelation(square, -1)).toThrow("scale must be a finite number > 0, got -1");
    const ints = tensor(new Int32Array(4), [1, 1, 4]);
    expect(() => channelRelation(ints)).toThrow("x must hold floating-point values, got int32");
    for (const t of [r, grid, oneGrid, square, ints]) t.dispose();
  });
});
