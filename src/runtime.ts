// What sere-torch is running on, and its thread setting.
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";

import { native, packageRoot } from "./native/load.js";
import type { NativeInfo } from "./native/surface.js";

export interface Info extends NativeInfo {
  /** Version of the sere-torch package. */
  version: string;
}

let packageVersion: string | undefined;

export function info(): Info {
  packageVersion ??= (JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { version: string }).version;
  return { version: packageVersion, ...native().info() };
}

/**
 * Sets LibTorch's intra-op threads for all later native work; 0 sets the default again, as a
 * configuration's `threads: 0` means: OMP_NUM_THREADS where it is set, else the machine's cores.
 */
export function setThreads(n: number): void {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0) {
    const given = typeof n === "number" ? String(n) : `${JSON.stringify(n)} (a ${typeof n})`;
    throw new RangeError(`setThreads(n): n must be a whole number of threads, or 0 for the default; given ${given}`);
  }
  native().setThreads(n === 0 ? defaultThreads() : n);
}

/** OMP_NUM_THREADS as a number of threads, where it is set to one. */
export function threadsFromEnvironment(): number | undefined {
  const n = Number(process.env.OMP_NUM_THREADS);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** The machine's cores shared among the `ranksHere` processes on it: one each at least. */
export function coresPerRank(ranksHere = 1): number {
  return Math.max(1, Math.floor(availableParallelism() / ranksHere));
}

/** The threads `0` stands for: OMP_NUM_THREADS where set, else coresPerRank. */
export function defaultThreads(ranksHere = 1): number {
  return threadsFromEnvironment() ?? coresPerRank(ranksHere);
}

/** Native objects (tensors, models, ...) currently held by JS; for finding leaks. */
export function liveObjects(): number {
  return native().liveObjects();
}
