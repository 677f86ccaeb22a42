// Broken IDX files: each is an error naming the file and what is wrong with it.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

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
});
