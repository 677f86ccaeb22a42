// Overlap grids and sampling: the facts about grids of docs/method.md#facts-to-test-against.
import { describe, expect, it } from "vitest";

import { type CropRecord, disposeGrids, overlapGrids, sampleMap, sampleRelation, sereGrids } from "../../src/index.js";
import { native } from "../../src/native/load.js";
import { tensor } from "../../src/tensor.js";
import { expectAllClose, filled, values } from "./helpers.js";

const crop = (x: number, y: number, w: number, h: number, flipped = false): CropRecord => ({ x, y, width: w, height: h, flipped });

/** grid[i][j] as [x, y] from a (1, s, s, 2) grid's values. */
function point(grid: number[], s: number, i: number, j: number): [number, number] {
  const at = (i * s + j) * 2;
  return [grid[at]!, grid[at + 1]!];
}

describe("overlap grids", () => {
  it("of q = (0, 0, 100, 100) and k = (50, 20, 100, 100, flipped): q's x 0 -> 1, y -0.6 -> 1; k's x 1 -> 0, y -1 -> 0.6", () => {
    const s = 5;
    const { query, key } = overlapGrids([crop(0, 0, 100, 100)], [crop(50, 20, 100, 100, true)], s);
    expect(query.shape()).toEqual([1, s, s, 2]);
    const q = values(query),
      k = values(key);
    const close = (a: [number, number], b: [number, number]) => expectAllClose(a, b, 1e-6);
    close(point(q, s, 0, 0), [0, -0.6]);
    close(point(q, s, s - 1, s - 1), [1, 1]);
    close(point(k, s, 0, 0), [1, -1]);
    close(point(k, s, s - 1, s - 1), [0, 0.6]);
    // x runs along j (columns), y along i (rows), evenly
    close(point(q, s, 3, 2), [0.5, -0.6 + (3 * 1.6) / 4]);
    close(point(k, s, 1, 3), [1 - 3 / 4, -1 + 1.6 / 4]);
    query.dispose();
    key.dispose();
  });

  it("without the flip, k's x would run -1 -> 0", () => {
    const { query, key } = overlapGrids([crop(0, 0, 100, 100)], [crop(50, 20, 100, 100, false)], 3);
    const k = values(key);
    expectAllClose([point(k, 3, 0, 0)[0], point(k, 3, 0, 2)[0]], [-1, 0], 1e-6);
    query.dispose();
    key.dispose();
  });

  it("point g[i][j] of q and of k are the same source pixel", () => {
    const q = crop(10, 20, 80, 60, true),
      k = crop(30, 5, 50, 90);
    const s = 4;
    const grids = overlapGrids([q], [k], s);
    const gq = values(grids.query),
      gk = values(grids.key);
    // back to source pixels: u = (x + 1) / 2 (unflipped), pixel = crop.x + u * crop.width
    const source = (r: CropRecord, g: [number, number]) => {
      let u = (g[0] + 1) / 2;
      if (r.flipped) u = 1 - u;
      return [r.x + u * r.width, r.y + ((g[1] + 1) / 2) * r.height];
    };
    for (let i = 0; i < s; i++) {
      for (let j = 0; j < s; j++) expectAllClose(source(q, point(gq, s, i, j)), source(k, point(gk, s, i, j)), 1e-4);
    }
    grids.query.dispose();
    grids.key.dispose();
  });

  it("of disjoint crops are full of -2, and sampling them gives exact zeros", async () => {
    const { query, key } = overlapGrids([crop(0, 0, 40, 40), crop(0, 0, 40, 40)], [crop(50, 0, 40, 40), crop(40, 0, 40, 40)], 3);
    // the second pair only touches along an edge: no overlap either
    expect(values(query).every((v) => v === -2)).toBe(true);
    expect(values(key).every((v) => v === -2)).toBe(true);
    const map = filled([2, 3, 4, 4], (i) => 1 + (i % 7));
    const sampled = await sampleMap(map, query);
    expect(values(sampled).every((v) => v === 0)).toBe(true);
    for (const t of [query, key, map, sampled]) t.dispose();
  });

  it("sampling ones at a grid on the crop border gives 0.5 on the edges and 0.25 at the corners", async () => {
    const s = 4;
    const { query, key } = overlapGrids([crop(0, 0, 100, 100)], [crop(0, 0, 100, 100)], s); // the whole crop: -1 .. 1
    const ones = filled([1, 1, 5, 5], () => 1);
    const sampled = values(await sampleMap(ones, query));
    const weight = (i: number) => (i === 0 || i === s - 1 ? 0.5 : 1);
    const expected = Array.from({ length: s * s }, (_, t) => weight(Math.floor(t / s)) * weight(t % s));
    expectAllClose(sampled, expected, 1e-6);
    expect(expected.filter((v) => v === 0.25)).toHaveLength(4);
    // a relation of ones resampled on both axes: the product of the two border weights
    const relation = filled([1, 1, 25, 25], () => 1);
    const both = values(await sampleRelation(relation, query, key));
    expectAllClose(
      both,
      expected.flatMap((wq) => expected.map((wk) => wq * wk)),
      1e-6,
    );
    for (const t of [query, key, ones, relation]) t.dispose();
  });

  it("for a batch: the two global pairs and every local-global pair, as get_grid makes them one by one", () => {
    const records: CropRecord[][] = [
      [crop(0, 0, 80, 90), crop(20, 10, 70, 60, true), crop(5, 5, 30, 30), crop(60, 60, 20, 20, true), crop(0, 70, 20, 20)],
      [crop(10, 0, 50, 50, true), crop(30, 30, 60, 60), crop(40, 40, 20, 20), crop(0, 0, 15, 15), crop(45, 5, 30, 30, true)],
    ];
    const B = 2,
      V_l = 3,
      s = 3;
    const g = sereGrids(records, { globalSides: [4, 5], localSide: s });
    expect(g.globalQueryAxis.shape()).toEqual([2 * B, 4, 4, 2]);
    expect(g.globalKeyAxis.shape()).toEqual([2 * B, 5, 5, 2]);
    expect(g.globalToLocal.shape()).toEqual([2 * B, V_l, s, s, 2]);
    expect(g.localToGlobal.shape()).toEqual([V_l * B, 2, s, s, 2]);
    const pair1 = overlapGrids(
      records.map((r) => r[0]!),
      records.map((r) => r[1]!),
      4,
    );
    expect(values(g.globalQueryAxis)).toEqual([...values(pair1.query), ...values(pair1.key)]);
    const g2l = values(g.globalToLocal),
      l2g = values(g.localToGlobal);
    const cell = s * s * 2;
    for (let b = 0; b < B; b++) {
      for (let v = 0; v < V_l; v++) {
        for (let gv = 0; gv < 2; gv++) {
          const one = overlapGrids([records[b]![2 + v]!], [records[b]![gv]!], s);
          const globalAt = ((gv * B + b) * V_l + v) * cell,
            localAt = ((v * B + b) * 2 + gv) * cell;
          expect(g2l.slice(globalAt, globalAt + cell)).toEqual(values(one.key));
          expect(l2g.slice(localAt, localAt + cell)).toEqual(values(one.query));
          one.query.dispose();
          one.key.dispose();
        }
      }
    }
    pair1.query.dispose();
    pair1.key.dispose();
    disposeGrids(g);
  });

  it("rejects bad records and sides with messages that say what to fix", () => {
    expect(() => overlapGrids([crop(0, 0, 0, 10)], [crop(0, 0, 10, 10)], 3)).toThrow("record 0: width and height must be > 0, got 0 x 10");
    expect(() => overlapGrids([crop(0, 0, 10, 10)], [], 3)).toThrow("same number of records (pairs), got 1 and 0");
    expect(() => overlapGrids([crop(0, 0, 10, 10)], [crop(0, 0, 10, 10)], 1)).toThrow("side must be an integer >= 2, got 1");
    expect(() => overlapGrids([crop(NaN, 0, 10, 10)], [crop(0, 0, 10, 10)], 3)).toThrow("x must be a finite number");
    expect(() => sereGrids([[crop(0, 0, 10, 10)]])).toThrow("2 global views first, got 1 views");
    expect(() => sereGrids([[crop(0, 0, 9, 9), crop(0, 0, 9, 9)], [crop(0, 0, 9, 9)]])).toThrow("image 1 has 1 views, image 0 has 2");
    // the native layer checks too, for callers that bypass the TS checks
    const bad = tensor(new Float64Array(8), [2, 4]);
    expect(() => native().overlapGrids(bad, bad, 3)).toThrow("must be crop records of shape (M, 5)");
    bad.dispose();
  });
});
