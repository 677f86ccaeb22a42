// CI must not go green by skipping: suites take their conditions from test/requirements.ts,
// which fails them under CI=true when what they need is missing.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

import { MAY_SKIP_IN_CI, requireOrSkip } from "./requirements.js";

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? testFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

describe("requireOrSkip", () => {
  it("skips where the requirement is missing, fails under CI=true, and lets only hardware skip in CI", () => {
    expect(requireOrSkip(true, "Fashion-MNIST", { CI: "true" })).toBe(true);
    expect(requireOrSkip(false, "Fashion-MNIST", {})).toBe(false);
    expect(() => requireOrSkip(false, "Fashion-MNIST", { CI: "true" })).toThrow(
      /Fashion-MNIST is missing, and under CI=true no suite may skip: install it/,
    );
    expect(MAY_SKIP_IN_CI).toEqual(["a CUDA device", "2 CUDA devices"]);
    expect(requireOrSkip(false, "a CUDA device", { CI: "true" })).toBe(false);
  });

  it("every conditional suite or test in test/ takes its condition from test/requirements.ts", () => {
    const root = join(import.meta.dirname);
    const offending: string[] = [];
    for (const file of testFiles(root)) {
      if (file.endsWith("requirements.ts")) continue;
      readFileSync(file, "utf8")
        .split("\n")
        .forEach((line, i) => {
          // .skip / .skipIf / .todo, or .runIf with anything but a requirement's check
          // (onDevice, test/devices.ts, is requireOrSkip's check for "a CUDA device")
          const conditional = /\.(skip|skipIf|todo)\(|\.runIf\((?!(requireOrSkip|has[A-Z]\w*|onDevice)\()/.test(line);
          if (conditional) offending.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offending).toEqual([]);
  });
});
