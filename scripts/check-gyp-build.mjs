#!/usr/bin/env node
// Proves that `node-gyp rebuild` builds a working addon from binding.gyp: builds it in a
// scratch copy of the sources (so the cmake-js build in build/ stays untouched), loads
// it and checks that it reports itself as the node-gyp build.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const scratch = mkdtempSync(join(tmpdir(), "sere-gyp-"));
try {
  for (const entry of ["binding.gyp", "package.json", "native", "scripts", "cmake"]) {
    cpSync(join(root, entry), join(scratch, entry), { recursive: true });
  }
  symlinkSync(join(root, "node_modules"), join(scratch, "node_modules"));
  // Build against the running Node's own headers when it has them (no download).
  const nodedir = resolve(dirname(process.execPath), "..");
  const headers = existsSync(join(nodedir, "include", "node", "node_api.h")) ? [`--nodedir=${nodedir}`] : [];
  const nodeGyp = createRequire(import.meta.url).resolve("node-gyp/bin/node-gyp.js");
  const started = Date.now();
  execFileSync(process.execPath, [nodeGyp, "rebuild", "-j", "max", ...headers], { cwd: scratch, stdio: "inherit" });
  const addon = createRequire(import.meta.url)(join(scratch, "build", "Release", "sere_torch.node"));
  const info = addon.info();
  if (info.build.system !== "node-gyp") throw new Error(`expected a node-gyp build, got ${info.build.system}`);
  console.log(JSON.stringify({ nodeGypBuild: "ok", seconds: (Date.now() - started) / 1000, libtorch: info.libtorchVersion, threads: info.threads }));
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
