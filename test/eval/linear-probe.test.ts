import { describe, expect, it } from "vitest";

import { linearProbe } from "../../src/eval/linear-probe.js";
import { tensor } from "../../src/index.js";
import { cudaFeatures, onDevice } from "../devices.js";

/** Four classes, each a Gaussian blob around its own direction: linearly separable. */
function blobs(count: number, seed: number) {
  let s = seed;
  const uniform = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const gaussian = () => Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());
  const D = 8;
  const features = new Float32Array(count * D);
  const labels = new BigInt64Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % 4;
    labels[i] = BigInt(c);
    for (let d = 0; d < D; d++) features[i * D + d] = (d === c ? 3 : d === c + 4 ? -3 : 0) + 0.3 * gaussian();
  }
  return { features: tensor(features, [count, D]), labels: tensor(labels, [count]) };
}

describe("linear probe", () => {
  it("reaches near-perfect accuracy on linearly separable features", async () => {
    const result = await linearProbe(blobs(400, 1), blobs(200, 2), { lrs: [0.01, 0.1], epochs: 20, batchSize: 32 });
    expect(result.sweep.map((r) => r.lr)).toEqual([0.01, 0.1]);
    expect(result.best.top1).toBeGreaterThanOrEqual(99);
    expect(result.best.top5).toBe(100);
  });

  it("names labels past numClasses (LibTorch's own message said only 'Target 4 is out of bounds')", async () => {
    const { features, labels } = blobs(8, 3);
    await expect(linearProbe({ features, labels }, { features, labels }, { numClasses: 2, epochs: 1 })).rejects.toThrow(
      "a label of 3 is past numClasses 2: give numClasses above the largest label, or 0 to count them",
    );
  });

  it("refuses empty splits and NaN features (all-NaN features used to score 50%)", async () => {
    const { features, labels } = blobs(8, 3);
    const nan = tensor(new Float32Array(8 * 8).fill(Number.NaN), [8, 8]);
    const empty = { features: tensor(new Float32Array(0), [0, 8]), labels: tensor(new BigInt64Array(0), [0]) };
    const options = { lrs: [0.1], epochs: 1 };
    await expect(linearProbe({ features: nan, labels }, { features: nan, labels }, options)).rejects.toThrow(
      "linear probe: 8 of 8 training feature rows hold NaN or infinite values (the first: row 0)",
    );
    await expect(linearProbe({ features, labels }, { features: nan, labels }, options)).rejects.toThrow("8 of 8 test feature rows hold NaN");
    await expect(linearProbe({ features, labels }, empty, options)).rejects.toThrow("linear probe: the test features have no rows");
    await expect(linearProbe(empty, { features, labels }, options)).rejects.toThrow("linear probe: the training features have no rows");
    // (views, N, D) training features: rows over all views
    const views = tensor(
      Float32Array.from({ length: 2 * 8 * 8 }, (_, i) => (i === 70 ? Number.NaN : 1)),
      [2, 8, 8],
    );
    await expect(linearProbe({ features: views, labels }, { features, labels }, options)).rejects.toThrow(
      "1 of 16 training feature rows hold NaN or infinite values (the first: row 8)",
    );
  });

  it("learns nothing beyond chance when labels are unrelated to the features", async () => {
    const train = blobs(400, 3);
    const test = blobs(200, 4);
    const shuffled = tensor(
      BigInt64Array.from({ length: 200 }, (_, i) => BigInt((i * 7 + 3) % 4 === i % 4 ? (i + 1) % 4 : (i * 7 + 3) % 4)),
      [200],
    );
    const result = await linearProbe(train, { features: test.features, labels: shuffled }, { lrs: [0.1], epochs: 10 });
    expect(result.best.top1).toBeLessThan(40);
  });

  it("trains epoch e on augmented view e mod V of (V, N, D) training features", async () => {
    const informative = blobs(400, 5);
    const noise = tensor(
      Float32Array.from({ length: 400 * 8 }, (_, i) => Math.sin(i * 12.9898) * 3),
      [400, 8],
    );
    const stack = (a: typeof noise, b: typeof noise) =>
      tensor(Float32Array.from([...(a.toArray() as Float32Array), ...(b.toArray() as Float32Array)]), [2, 400, 8]);
    const test = blobs(200, 6);
    const options = { lrs: [0.1], epochs: 1, batchSize: 32 };
    // one epoch: only view 0 is seen
    const learnt = await linearProbe({ features: stack(informative.features, noise), labels: informative.labels }, test, options);
    const blind = await linearProbe({ features: stack(noise, informative.features), labels: informative.labels }, test, options);
    expect(learnt.best.top1).toBeGreaterThanOrEqual(95);
    expect(blind.best.top1).toBeLessThan(50);
    // two epochs: both views are used, and the model still learns from the informative one
    const both = await linearProbe({ features: stack(noise, informative.features), labels: informative.labels }, test, { ...options, epochs: 2 });
    expect(both.best.top1).toBeGreaterThan(blind.best.top1);
    await expect(linearProbe({ features: stack(noise, noise), labels: test.labels }, test, options)).rejects.toThrow(/one label per image/);
  });
});

describe.runIf(onDevice("cuda"))("linear probe, on cuda", () => {
  it("on features held on the GPU: the accuracies of the same probe on the CPU, within a test image", async () => {
    const [train, test] = [await cudaFeatures(200, 3), await cudaFeatures(50, 4)];
    // A learnable label: which of the first four feature values is the largest.
    const labels = (rows: number[][]) => tensor(BigInt64Array.from(rows.map((r) => BigInt(r.indexOf(Math.max(...r.slice(0, 4)))))), [rows.length]);
    const onCpu = (t: typeof train.features) => tensor(t.toArray() as Float32Array, t.shape());
    const options = { lrs: [0.01, 0.1], epochs: 5, batchSize: 32 };
    const gpu = await linearProbe(
      { features: train.features, labels: labels(train.rows) },
      { features: test.features, labels: labels(test.rows) },
      options,
    );
    const cpu = await linearProbe(
      { features: onCpu(train.features), labels: labels(train.rows) },
      { features: onCpu(test.features), labels: labels(test.rows) },
      options,
    );
    gpu.sweep.forEach((r, i) => {
      expect(Math.abs(r.top1 - cpu.sweep[i]!.top1), `lr ${r.lr}`).toBeLessThanOrEqual(100 / 50);
      expect(Math.abs(r.top5 - cpu.sweep[i]!.top5), `lr ${r.lr}`).toBeLessThanOrEqual(100 / 50);
    });
  });
});
