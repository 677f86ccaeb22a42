#!/usr/bin/env node
// Builds the addon with cmake-js against the LibTorch that scripts/libtorch.mjs finds.
// Runs as the package's install script; also `npm run build:native [-- --CDTorch_DIR=DIR]`.
import { spawnSync } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { findLibTorch } from "./libtorch.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);

const passThrough = process.argv.slice(2);
const explicitArg = passThrough.find((a) => a.startsWith("--CDTorch_DIR="));
let torch;
try {
  torch = findLibTorch({ explicit: explicitArg?.slice("--CDTorch_DIR=".length) });
} catch (err) {
  console.error(`\n${err.message}\n`);
  process.exit(1);
}
console.log(`sere-torch: building the native addon against LibTorch from ${torch.source}: ${torch.torchDir}`);

const cmakeJs = require.resolve("cmake-js/bin/cmake-js");
const args = [cmakeJs, "build", "--directory", root, `--CDTorch_DIR=${torch.torchDir}`, ...passThrough.filter((a) => a !== explicitArg)];
const result = spawnSync(process.execPath, args, {
  cwd: root,
  stdio: "inherit",
  env: { CMAKE_BUILD_PARALLEL_LEVEL: String(Math.max(1, availableParallelism())), ...process.env },
});
if (result.status !== 0) {
  console.error("\nsere-torch: the native build failed (see the compiler output above).");
  process.exit(result.status ?? 1);
}

// Installed as a dependency, the package is not rebuilt incrementally: only the addon stays of
// the build (its precompiled header alone is over 500 MB). A clone keeps it all for the next build.
if (root.split(sep).includes("node_modules")) {
  for (const entry of readdirSync(join(root, "build"))) {
    if (entry !== "Release") rmSync(join(root, "build", entry), { recursive: true, force: true });
  }
  for (const entry of readdirSync(join(root, "build", "Release"))) {
    if (entry !== "sere_torch.node") rmSync(join(root, "build", "Release", entry), { recursive: true, force: true });
  }
}
