// Inside a clone, `npm install` links the package's own commands into node_modules/.bin, so
// they run from there: no npx cache (which npx fills with a copy of the folder, and which a
// concurrent `npm ci` can leave broken), no network, no HOME.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..", "..");
const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;

describe("the package's own commands in a clone", () => {
  // A user with nothing cached: an empty HOME and npm cache, offline.
  const home = mkdtempSync(join(tmpdir(), "sere-home-"));
  const env = {
    ...process.env,
    HOME: home,
    npm_config_cache: join(home, ".npm"),
    npm_config_offline: "true",
    npm_config_update_notifier: "false",
    PATH: `${join(root, "node_modules", ".bin")}${delimiter}${process.env.PATH ?? ""}`,
  };

  it("npm install linked sere-train and sere into node_modules/.bin", () => {
    for (const name of ["sere-train", "sere"]) {
      expect(
        existsSync(join(root, "node_modules", ".bin", name)),
        `node_modules/.bin/${name}: run npm install (its prepare step builds dist/ and links the commands)`,
      ).toBe(true);
    }
  });

  it.each([["sere-train"], ["sere"]])("%s --version runs from node_modules/.bin, without npx's cache", (name) => {
    const direct = spawnSync(name, ["--version"], { cwd: root, env, encoding: "utf8" });
    expect(direct.stdout, direct.stderr).toBe(`${name} ${version}\n`);
    const viaNpm = spawnSync("npm", ["exec", "-c", `${name} --version`], { cwd: root, env, encoding: "utf8" });
    expect(viaNpm.stdout, viaNpm.stderr).toBe(`${name} ${version}\n`);
    const cache = join(home, ".npm");
    expect(existsSync(cache) ? readdirSync(cache) : []).not.toContain("_npx");
  });
});
