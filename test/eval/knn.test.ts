// Weighted k-NN against a brute-force computation written here, and a toy problem.
import { describe, expect, it } from "vitest";

import { knnAccuracy } from "../../src/eval/knn.js";
import { tensor } from "../../src/index.js";
import { cudaFeatures, onDevice } from "../devices.js";

/** A small seeded generator, so the random cases are the same every run. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function bruteForce(train: number[][], trainY: number[], test: number[][], testY: number[], k: number, T: number, classes: number) {
  const unit = (v: number[]) => {
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  };
  const tr = train.map(unit);
  let top1 = 0;
  let top5 = 0;
  test.forEach((raw, t) => {
    const q = unit(raw);
    const sims = tr.map((f, i) => ({ i, s: f.reduce((acc, x, d) => acc + x * q[d]!, 0) }));
    sims.sort((a, b) => b.s - a.s || a.i - b.i);
    const votes = new Array<number>(classes).fill(0);
    for (const { i, s } of sims.slice(0, k)) votes[trainY[i]!]! += Math.exp(s / T);
    const ranking = votes
      .map((v, c) => ({ v, c }))
      .sort((a, b) => b.v - a.v || a.c - b.c)
      .map((r) => r.c);
    if (ranking[0] === testY[t]) top1++;
    if (ranking.slice(0, 5).includes(testY[t]!)) top5++;
  });
  return { top1: (100 * top1) / test.length, top5: (100 * top5) / test.length };
}

const asTensor = (rows: number[][]) => tensor(Float32Array.from(rows.flat()), [rows.length, rows[0]!.length]);
const labels = (ys: number[]) => tensor(BigInt64Array.from(ys.map(BigInt)), [ys.length]);

describe("weighted k-NN", () => {
  it("matches a brute-force computation on random features, for several k and temperatures", async () => {
    const rand = random(7);
    const classes = 8;
    const rows = (n: number) => Array.from({ length: n }, () => Array.from({ length: 6 }, () => rand() * 2 - 1));
    const train = rows(300);
    const test = rows(70);
    const trainY = train.map(() => Math.floor(rand() * classes));
    const testY = test.map(() => Math.floor(rand() * classes));
    for (const temperature of [0.07, 0.5]) {
      const ks = [1, 5, 20];
      const ours = await knnAccuracy(
        { features: asTensor(train), labels: labels(trainY) },
        { features: asTensor(test), labels: labels(testY) },
        { ks, temperature, numClasses: classes, chunkSize: 16 },
      );
      ks.forEach((k, i) => {
        const expected = bruteForce(train, trainY, test, testY, k, temperature, classes);
        expect(ours[i]!.k).toBe(k);
        expect(ours[i]!.top1).toBeCloseTo(expected.top1, 9);
        expect(ours[i]!.top5).toBeCloseTo(expected.top5, 9);
      });
    }
  });

  it("a toy problem with a known answer: equal votes rank the lower class first", async () => {
    // Two training points at the same similarity 0.6 from the query [1, 0], of classes 0 and 1:
    // with k = 2 their votes tie, so class 0 ranks first.
    const train = [
      [0.6, 0.8],
      [0.6, -0.8],
      [-1, 0],
    ];
    const trainY = [0, 1, 2];
    const test = [
      [1, 0],
      [1, 0],
      [-1, 0.1],
    ];
    const testY = [0, 1, 2];
    const [k1, k2] = await knnAccuracy(
      { features: asTensor(train), labels: labels(trainY) },
      { features: asTensor(test), labels: labels(testY) },
      { ks: [1, 2], numClasses: 3 },
    );
    // k = 2: query 1 -> class 0 (tie, lower first) right; query 2 -> class 0, wrong; query 3 -> class 2 right
    expect(k2!.top1).toBeCloseTo(200 / 3, 9);
    expect(k2!.top5).toBe(100);
    expect(k1!.k).toBe(1);
  });

  it("rejects a k larger than the training set and mismatched labels", async () => {
    const f = asTensor([[1, 0]]);
    await expect(knnAccuracy({ features: f, labels: labels([0]) }, { features: f, labels: labels([0]) }, { ks: [2] })).rejects.toThrow(
      "k = 2 exceeds the 1 training features",
    );
    await expect(knnAccuracy({ features: f, labels: labels([0, 1]) }, { features: f, labels: labels([0]) })).rejects.toThrow("one label per feature");
  });

  it("names features of other widths, labels that are no class index, and labels past numClasses", async () => {
    const train = {
      features: asTensor([
        [1, 0],
        [0, 1],
      ]),
      labels: labels([0, 1]),
    };
    const wider = { features: asTensor([[1, 0, 0]]), labels: labels([0]) };
    await expect(knnAccuracy(train, wider, { ks: [1] })).rejects.toThrow(
      "training features are 2 wide but test features 3: extract both with the same network and tokens",
    );
    const unlabelled = { features: asTensor([[1, 0]]), labels: labels([-1]) };
    await expect(knnAccuracy(train, unlabelled, { ks: [1] })).rejects.toThrow(
      "a label of -1 is no class index (an unlabelled image's label is -1): give every image a class",
    );
    await expect(knnAccuracy(train, train, { ks: [1], numClasses: 1 })).rejects.toThrow(
      "a label of 1 is past numClasses 1: give numClasses above the largest label, or 0 to count them",
    );
  });
});

describe("k-NN refuses features that would score nothing", () => {
  const train = {
    features: asTensor([
      [1, 0],
      [0, 1],
      [1, 1],
    ]),
    labels: labels([0, 1, 1]),
  };

  it("an empty split, naming which", async () => {
    const none = { features: tensor(new Float32Array(0), [0, 2]), labels: labels([]) };
    await expect(knnAccuracy(train, none, { ks: [1] })).rejects.toThrow(
      "k-NN: the test features have no rows (shape [0, 2]); give at least one test image",
    );
    await expect(knnAccuracy(none, train, { ks: [1] })).rejects.toThrow("k-NN: the training features have no rows");
  });

  it("NaN or infinite features, naming how many rows of which split", async () => {
    const nan = {
      features: asTensor([
        [1, 0],
        [Number.NaN, 1],
        [1, Number.POSITIVE_INFINITY],
      ]),
      labels: labels([0, 1, 1]),
    };
    await expect(knnAccuracy(train, nan, { ks: [1] })).rejects.toThrow(
      "k-NN: 2 of 3 test feature rows hold NaN or infinite values (the first: row 1)",
    );
    await expect(knnAccuracy(nan, train, { ks: [1] })).rejects.toThrow("k-NN: 2 of 3 training feature rows hold NaN or infinite values");
    expect((await knnAccuracy(train, train, { ks: [1] }))[0]!.top1).toBe(100);
  });
});

describe.runIf(onDevice("cuda"))("weighted k-NN, on cuda", () => {
  it("matches a brute-force computation on features held on the GPU", async () => {
    const classes = 5;
    const [train, test] = [await cudaFeatures(120, 1), await cudaFeatures(40, 2)];
    const [trainY, testY] = [train.rows.map((_, i) => (i * 7) % classes), test.rows.map((_, i) => (i * 3) % classes)];
    const ks = [1, 5, 20];
    const ours = await knnAccuracy(
      { features: train.features, labels: labels(trainY) },
      { features: test.features, labels: labels(testY) },
      { ks, temperature: 0.07, numClasses: classes, chunkSize: 16 },
    );
    ks.forEach((k, i) => {
      const expected = bruteForce(train.rows, trainY, test.rows, testY, k, 0.07, classes);
      expect(ours[i]!.top1, `k = ${k}`).toBeCloseTo(expected.top1, 9);
      expect(ours[i]!.top5, `k = ${k}`).toBeCloseTo(expected.top5, 9);
    });
  });
});
