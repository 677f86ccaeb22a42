// One style: Biome formats and lints the TypeScript (biome.json), clang-format formats native/
// (.clang-format). `npm run format` fixes what these find; `npm run lint` runs both checks.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { CLANG_FORMAT, hasClangFormat } from "./requirements.js";

const ROOT = join(import.meta.dirname, "..");

function nativeSources(): string[] {
  return readdirSync(join(ROOT, "native"), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".cc") || f.endsWith(".h"))
    .map((f) => join("native", f));
}

describe("code style", () => {
  it("the TypeScript is as Biome formats it, and its lint rules pass", () => {
    const r = spawnSync(join(ROOT, "node_modules", ".bin", "biome"), ["check", "--colors=off", "."], { cwd: ROOT, encoding: "utf8" });
    expect(r.status, `${r.stdout}\n${r.stderr}\nrun \`npm run format\``).toBe(0);
  });

  describe.runIf(hasClangFormat())("native/", () => {
    it("is as clang-format formats it", () => {
      const files = nativeSources();
      expect(files.length).toBeGreaterThan(50);
      const r = spawnSync(CLANG_FORMAT, ["--dry-run", "-Werror", ...files], { cwd: ROOT, encoding: "utf8" });
      expect(r.status, `${r.stderr.split("\n").slice(0, 40).join("\n")}\nrun \`npm run format\``).toBe(0);
    });
  });
});
