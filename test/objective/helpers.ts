// Shared by the objective's tests: fixtures, tensors from plain numbers, comparisons.
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { expect } from "vitest";

import { type Tensor, tensor } from "../../src/index.js";

export interface FixtureTensor {
  shape: number[];
  data: number[];
}

export function loadFixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(import.meta.dirname, "..", "fixtures", "objective", name), "utf8")) as T;
}

export function f32(t: FixtureTensor): Tensor {
  return tensor(Float32Array.from(t.data), t.shape);
}

export function f64(t: FixtureTensor): Tensor {
  return tensor(Float64Array.from(t.data), t.shape);
}

/** A tensor of `shape` filled by `at(flat index)`. */
export function filled(shape: number[], at: (i: number) => number, type: "f32" | "f64" = "f32"): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const data = type === "f32" ? new Float32Array(size) : new Float64Array(size);
  for (let i = 0; i < size; i++) data[i] = at(i);
  return tensor(data, shape);
}

/** Deterministic pseudo-random normals (xorshift + Box-Muller), for inputs of any size. */
export function normals(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const uniform = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

export function values(t: Tensor): number[] {
  return Array.from(t.toArray() as Float32Array | Float64Array, Number);
}

/** Every element within `tol` (absolute) of the expected; reports the worst. */
export function expectAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = ""): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(Number(actual[i]) - Number(expected[i]));
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  expect(worst, `${what}: worst difference at ${at} (${actual[at]} vs ${expected[at]})`).toBeLessThanOrEqual(tol);
}
