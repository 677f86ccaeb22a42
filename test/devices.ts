// The devices the numeric tests run on: the CPU always, CUDA where the addon sees a device.
// Each device's tests carry "on <device>" in their names, so that `-t "on cuda"` picks the
// CUDA variants (scripts/check-gpu.ts does) and a machine without CUDA lists them as skipped.
import { info } from "../src/runtime.js";
import { requireOrSkip } from "./requirements.js";

export const DEVICES = ["cpu", "cuda"] as const;
export type TestDevice = (typeof DEVICES)[number];

/** Whether the tests on `device` run here: the CPU always; CUDA when there is a device (else skipped, even under CI=true). */
export function onDevice(device: TestDevice): boolean {
  return device === "cpu" || requireOrSkip(info().cuda.available, "a CUDA device");
}
