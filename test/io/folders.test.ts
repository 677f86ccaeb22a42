// Output folders: made with their parents, or refused with the part of the path at fault.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { makeFolder } from "../../src/io/folders.js";

const folder = () => mkdtempSync(join(tmpdir(), "sere-folders-"));

describe("makeFolder", () => {
  it("makes the folder and its missing parents, and leaves an existing one as it is", () => {
    const dir = folder();
    const deep = join(dir, "a", "b", "c");
    makeFolder(deep);
    expect(statSync(deep).isDirectory()).toBe(true);
    writeFileSync(join(deep, "kept"), "x");
    makeFolder(deep);
    makeFolder(`${join(dir, "a")}/`);
    expect(statSync(join(deep, "kept")).isFile()).toBe(true);
  });

  it("names a file in the way", () => {
    const dir = folder();
    writeFileSync(join(dir, "file"), "x");
    expect(() => makeFolder(join(dir, "file", "run"), "--output-dir")).toThrow(
      `cannot create the output folder ${join(dir, "file", "run")}: ${join(dir, "file")} is a file, not a folder; give a folder that can be written (--output-dir)`,
    );
    // the setting named as the caller named it, or not at all
    expect(() => makeFolder(join(dir, "file", "run"), "outputDir")).toThrow(/; give a folder that can be written \(outputDir\)$/);
    expect(() => makeFolder(join(dir, "file", "run"))).toThrow(/; give a folder that can be written$/);
    expect(() => makeFolder(join(dir, "file"))).toThrow(`${join(dir, "file")} is a file, not a folder`);
  });

  it("names a link whose target is missing (a disk not mounted), where Node says only ENOENT", () => {
    const dir = folder();
    const target = join(dir, "unmounted", "runs");
    symlinkSync(target, join(dir, "runs"));
    expect(() => makeFolder(join(dir, "runs", "today"))).toThrow(`${join(dir, "runs")} is a link to ${target}, which does not exist`);
    mkdirSync(target, { recursive: true });
    makeFolder(join(dir, "runs", "today"));
    expect(statSync(join(target, "today")).isDirectory()).toBe(true);
  });

  it("refuses a file system that takes no new folders at once, where Node's recursive mkdir never returns", () => {
    // In a child process with a time limit: a regression would otherwise hang this worker.
    const code = `import("./src/io/folders.ts").then((m) => { try { m.makeFolder("/proc/sere-test/run", "--output-dir"); } catch (e) { console.log(e.message); } })`;
    const run = spawnSync(process.execPath, ["--import", "tsx", "-e", code], { encoding: "utf8", timeout: 30_000 });
    expect(run.signal, "makeFolder did not return within 30 s").toBeNull();
    expect(run.stdout.trim()).toBe(
      "cannot create the output folder /proc/sere-test/run: the file system of /proc does not take new folders; give a folder that can be written (--output-dir)",
    );
  });
});
