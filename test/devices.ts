// The devices the numeric tests run on: the CPU always, CUDA where the addon sees a device.
// Each device's tests carry "on <device>" in their names, so that `-t "on cuda"` picks the
// CUDA variants (scripts/check-gpu.ts does) and a machine without CUDA lists them as skipped.
import { Model, tensor } from "../src/index.js";
import { info } from "../src/runtime.js";
import type { Tensor } from "../src/tensor.js";
import { requireOrSkip } from "./requirements.js";

export const DEVICES = ["cpu", "cuda"] as const;
export type TestDevice = (typeof DEVICES)[number];

/** Whether the tests on `device` run here: the CPU always; CUDA when there is a device (else skipped, even under CI=true). */
export function onDevice(device: TestDevice): boolean {
  return device === "cpu" || requireOrSkip(info().cuda.available, "a CUDA device");
}

/** Whether `count` CUDA devices are here (tests of several ranks over NCCL); skipped by name where not. */
export function hasCudaDevices(count: number): boolean {
  return onDevice("cuda") && (count <= 1 || requireOrSkip(info().cuda.deviceCount >= count, `${count} CUDA devices`));
}

/**
 * `n` feature rows held on CUDA, with their values. JavaScript places no tensor on a device
 * itself: these are the CLS features (6 values) a small seeded network computes there.
 */
export async function cudaFeatures(n: number, seed: number): Promise<{ features: Tensor; rows: number[][] }> {
  const model = Model.create({ arch: "custom", embedDim: 6, depth: 1, numHeads: 2, patchSize: 4, imgSize: 8, head: false, seed, device: "cuda" });
  const images = tensor(
    Float32Array.from({ length: n * 3 * 8 * 8 }, (_, i) => Math.sin(i * 0.37 + seed)),
    [n, 3, 8, 8],
  );
  const features = await model.features(images);
  model.dispose();
  const values = features.toArray() as Float32Array;
  return { features, rows: Array.from({ length: n }, (_, r) => Array.from(values.subarray(r * 6, (r + 1) * 6))) };
}
