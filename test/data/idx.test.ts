// Broken IDX files: each is an error naming the file and what is wrong with it.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

import { describe, expect, it } from "vitest";

import { openDataset } from "../../src/data/datasets/open.js";
import { tempDir, writeIdx } from "./helpers.js";

/** An uncompressed IDX images file with these dimensions and no pixel data past `pixels`. */
function idxBytes(dims: number[], pixels = 0): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(0x800 + dims.length, 0);
  dims.forEach((d, i) => {
    header.writeUInt32BE(d, 4 + 4 * i);
  });
  return Buffer.concat([header, Buffer.alloc(pixels)]);
}

describe("broken IDX files", () => {
  const dir = tempDir("idx-broken");
  const write = (name: string, bytes: Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };
  const problem = (path: string) => {
    try {
      openDataset(path);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error(`${path} opened`);
  };

  it("a file cut inside its header", () => {
    const path = write("cut-images-idx3-ubyte", idxBytes([2, 28, 28], 2 * 784).subarray(0, 10));
    expect(problem(path)).toMatch(/cut-images-idx3-ubyte is truncated: its header needs 16 bytes, it has 10; download it again/);
  });

  it("a truncated .gz", () => {
    writeIdx(dir, "train", 4);
    const whole = readFileSync(join(dir, "train-images-idx3-ubyte.gz"));
    const path = write("short-images-idx3-ubyte.gz", whole.subarray(0, whole.length >> 1));
    expect(problem(path)).toMatch(/short-images-idx3-ubyte\.gz is not a complete gzip file \(.*\); download it again/);
  });

  it("images of 0 x 0 pixels, and no images", () => {
    expect(problem(write("empty-images-idx3-ubyte", idxBytes([3, 0, 0])))).toMatch(/empty-images-idx3-ubyte: its images are 0 x 0 pixels/);
    expect(problem(write("none-images-idx3-ubyte", idxBytes([0, 28, 28])))).toMatch(/none-images-idx3-ubyte holds no images/);
  });

  it("an empty file, a labels file where the images belong and images where the labels belong", () => {
    expect(problem(write("zero-images-idx3-ubyte", Buffer.alloc(0)))).toMatch(/zero-images-idx3-ubyte is empty; download it again$/);
    expect(problem(write("swapped-images-idx3-ubyte", idxBytes([4], 4)))).toMatch(
      /swapped-images-idx3-ubyte holds 1 dimension\(s\) where images \(count, rows, columns\) have 3: is it the labels file\?$/,
    );
    // a labels header of 3 dimensions read as claiming 4e15 bytes
    write("odd-labels-idx1-ubyte", idxBytes([2, 2, 2], 8));
    expect(problem(write("odd-images-idx3-ubyte", idxBytes([2, 2, 2], 8)))).toMatch(
      /odd-labels-idx1-ubyte holds 3 dimension\(s\) where labels \(count\) have 1: is it the images file\?$/,
    );
  });

  it("finds the labels beside gzipped images when they are not gzipped, and the other way round", () => {
    const mixed = tempDir("idx-mixed");
    writeIdx(mixed, "train", 4);
    writeFileSync(join(mixed, "train-labels-idx1-ubyte"), gunzipSync(readFileSync(join(mixed, "train-labels-idx1-ubyte.gz"))));
    rmSync(join(mixed, "train-labels-idx1-ubyte.gz"));
    const data = openDataset(mixed);
    expect(Array.from({ length: 4 }, (_, i) => data.label(i)).every((l) => l >= 0)).toBe(true);
  });
});
