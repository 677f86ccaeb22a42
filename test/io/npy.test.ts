// .npy files, byte for byte as NumPy writes them (test/fixtures/io/generate.py).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

import { npyBytes } from "../../src/io/npy.js";
import { tensor } from "../../src/tensor.js";

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/io/${name}`, import.meta.url)));

describe(".npy", () => {
  it("float32 features equal NumPy's file", () => {
    const features = tensor(
      Float32Array.from({ length: 6 }, (_, i) => i / 4),
      [2, 3],
    );
    expect(npyBytes(features)).toEqual(fixture("features.npy"));
  });

  it("int64 labels (1-D) equal NumPy's file", () => {
    expect(npyBytes(tensor(BigInt64Array.from([3n, -1n, 7n]), [3]))).toEqual(fixture("labels.npy"));
  });
});
