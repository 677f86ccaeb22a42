import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// @ts-expect-error: a plain .mjs build script without type declarations
import { findLibTorch } from "../../scripts/libtorch.mjs";

const emptyDir = () => mkdtempSync(join(tmpdir(), "sere-empty-"));

describe("LibTorch discovery", () => {
  it("fails the build naming LIBTORCH when it points to an empty folder", () => {
    const dir = emptyDir();
    const run = spawnSync(process.execPath, ["scripts/build-native.mjs"], {
      encoding: "utf8",
      env: { ...process.env, LIBTORCH: dir, Torch_DIR: "" },
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`environment variable LIBTORCH=${dir}: no LibTorch there`);
    expect(run.stderr).toContain("unset it");
  });

  it("fails CMake's configure the same way when cmake-js is called directly", () => {
    const dir = emptyDir();
    const run = spawnSync("cmake", ["-S", ".", "-B", join(emptyDir(), "build")], {
      encoding: "utf8",
      env: { ...process.env, LIBTORCH: dir },
    });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(`environment variable LIBTORCH=${dir}: no LibTorch there`);
  });

  it("rejects an explicit Torch_DIR definition without TorchConfig.cmake", () => {
    const dir = emptyDir();
    expect(() => findLibTorch({ explicit: dir, env: {} })).toThrow(`CMake definition Torch_DIR=${dir}: no TorchConfig.cmake there`);
  });

  it("lists every place tried, with a fix for each, when none has LibTorch", () => {
    let message = "";
    try {
      findLibTorch({ env: {}, pythons: ["/nonexistent/python3"], systemRoots: [emptyDir()] });
    } catch (err) {
      message = (err as Error).message;
    }
    const lines = message.split("\n");
    expect(lines[0]).toBe("sere-torch: no usable LibTorch found. Places tried, in order:");
    expect(lines.filter((l) => /^ {2}\d\. /.test(l))).toHaveLength(5);
    expect(message).toMatch(/1\. CMake definition Torch_DIR: not given\. Fix: pass .*--CDTorch_DIR=/);
    expect(message).toMatch(/2\. environment variable LIBTORCH: not set\. Fix: export LIBTORCH=/);
    expect(message).toMatch(/3\. environment variable Torch_DIR: not set\. Fix: export Torch_DIR=/);
    expect(message).toMatch(/4\. Python PyTorch .*not importable\. Fix: pip install torch/);
    expect(message).toMatch(/5\. system CMake package .*Fix: .*apt-get install libtorch-dev libgloo-dev libopenblas0-openmp/);
  });

  it("accepts LIBTORCH as an archive root, a pip package or the config folder itself", () => {
    for (const layout of ["share/cmake/Torch", "Torch", ""]) {
      const root = emptyDir();
      const configDir = join(root, layout);
      mkdirSync(configDir, { recursive: true });
      writeFileSync(join(configDir, "TorchConfig.cmake"), "");
      expect(findLibTorch({ env: { LIBTORCH: root } })).toEqual({ torchDir: configDir, source: "environment variable LIBTORCH" });
    }
  });

  it("finds this machine's LibTorch by default", () => {
    const found = findLibTorch({ env: {} });
    expect(found.torchDir).toMatch(/Torch$/);
  });
});
