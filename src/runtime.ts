// What sere-torch is running on, and its thread setting.
import { readFileSync } from "node:fs";
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

/** Sets LibTorch's intra-op threads for all later native work (default: the machine's cores). */
export function setThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`setThreads(n): n must be an integer >= 1, got ${String(n)}`);
  }
  native().setThreads(n);
}

/** Native objects (tensors, models, ...) currently held by JS; for finding leaks. */
export function liveObjects(): number {
  return native().liveObjects();
}
