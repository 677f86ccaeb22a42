// What some suites need from the machine (Fashion-MNIST, Python's torch, data parallelism).
// Without it a suite skips itself on a developer's machine, but CI must not go green by
// skipping: under CI=true a missing requirement fails the suite, naming what to install.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";

import { info } from "../src/runtime.js";

/** Requirements a CI machine may lack, so that their suites may skip there too: hardware only. */
export const MAY_SKIP_IN_CI: readonly string[] = ["a CUDA device", "2 CUDA devices"];

/**
 * Whether `what` is available (`available`). Where it is not: throws under CI=true (unless
 * `what` is in MAY_SKIP_IN_CI), so that the suite fails; otherwise returns false, so that
 * the suite skips. Use as `describe.runIf(requireOrSkip(...))`.
 */
export function requireOrSkip(available: boolean, what: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (available || env.CI !== "true" || MAY_SKIP_IN_CI.includes(what)) return available;
  throw new Error(
    `${what} is missing, and under CI=true no suite may skip: install it (scripts/setup-debian.sh does), or run without CI=true to skip the suite`,
  );
}

export const FASHION_MNIST = "/usr/share/datasets/fashion-mnist";

/** Debian's headless-capable Chromium, which the report tests load pages in. */
export const CHROMIUM = "/usr/bin/chromium";
export const hasChromium = () => requireOrSkip(existsSync(CHROMIUM), "Chromium (Debian's chromium)");

/** Debian's Fashion-MNIST (dataset-fashion-mnist). */
export const hasFashionMnist = () =>
  requireOrSkip(existsSync(`${FASHION_MNIST}/train-images-idx3-ubyte.gz`), "Fashion-MNIST (Debian's dataset-fashion-mnist)");

/** An addon built with data parallelism (LibTorch's c10d with Gloo: Debian's libgloo-dev). */
export const hasDataParallelism = () =>
  requireOrSkip(info().build.dataParallel, "data parallelism (an addon built against LibTorch with c10d and Gloo: Debian's libgloo-dev)");

/** Debian's clang-format, which keeps native/ in one style (the style test checks it). */
export const CLANG_FORMAT = "clang-format";
export const hasClangFormat = () => requireOrSkip(spawnSync(CLANG_FORMAT, ["--version"]).status === 0, "clang-format (Debian's clang-format)");

/** Debian's LibTorch loads oneDNN as a shared library (libdnnl2 on Debian 12, 3 on 13), where float products can reach it. */
const SYSTEM_LIBRARIES = "/usr/lib/x86_64-linux-gnu";
const hasOneDnnLibrary = () => existsSync(SYSTEM_LIBRARIES) && readdirSync(SYSTEM_LIBRARIES).some((f) => /^libdnnl\.so\.\d/.test(f));
export const hasSharedOneDnn = () => requireOrSkip(hasOneDnnLibrary(), "oneDNN as a shared library (Debian's libdnnl, with libtorch-dev)");

let python: { path?: string } | undefined;

/** The python3 that imports torch (Debian's python3-torch), if this machine has one. */
export function pythonWithTorch(): string | undefined {
  python ??= { path: ["/usr/bin/python3", "python3"].find((p) => spawnSync(p, ["-c", "import torch"]).status === 0) };
  return python.path;
}

/** Python's torch, for the tests that check our files against it. */
export const hasPythonTorch = () => requireOrSkip(pythonWithTorch() !== undefined, "Python's torch (Debian's python3-torch)");
