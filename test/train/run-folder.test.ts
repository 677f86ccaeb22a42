// The output folder a run takes over: an earlier run's files are never lost or mixed up.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { checkRunFolder, cutLog, prepareRunFolder } from "../../src/train/run-folder.js";

const folderWith = (files: Record<string, string>) => {
  const dir = mkdtempSync(join(tmpdir(), "sere-folder-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
};
const line = (iteration: number) => JSON.stringify({ epoch: 0, iteration, total: 1 / iteration });

describe("run folders", () => {
  it("a new run refuses a folder holding an earlier run, naming --resume and --overwrite", () => {
    const dir = folderWith({ "checkpoint.pth": "", "log.jsonl": line(1) });
    const how = { resume: false, overwrite: false };
    expect(() => checkRunFolder(dir, how)).toThrow(
      `the output folder ${dir} holds an earlier run (checkpoint.pth, log.jsonl): continue it with --resume, start anew with --overwrite (deletes those files), or give another --output-dir`,
    );
    // a log without a checkpoint cannot be resumed: only --overwrite is offered
    expect(() => checkRunFolder(folderWith({ "log.jsonl": line(1) }), how)).toThrow(
      /holds an earlier run \(log\.jsonl\): start anew with --overwrite/,
    );
    expect(() => checkRunFolder(dir, { resume: true, overwrite: true })).toThrow(
      "--resume continues the run in the output folder and --overwrite deletes it: give one of them",
    );
    checkRunFolder(dir, { resume: true, overwrite: false });
    checkRunFolder(dir, { resume: false, overwrite: true });
    checkRunFolder(folderWith({ "config.json": "{}" }), how);
    checkRunFolder(join(dir, "not-yet"), how);
    expect(() => checkRunFolder(join(dir, "log.jsonl"), how)).toThrow(
      `the output folder ${join(dir, "log.jsonl")} is a file, not a folder: give another --output-dir`,
    );
  });

  it("removes stale .partial files; --overwrite removes the earlier run; a new run's log starts anew", () => {
    const files = {
      "checkpoint.pth": "c",
      "checkpoint0040.pth": "c",
      "log.jsonl": line(1),
      "checkpoint.pth.partial": "torn",
      "features.npy.partial": "torn",
      "notes.txt": "mine",
    };
    const resumed = folderWith(files);
    prepareRunFolder(resumed, { overwrite: false, resuming: true });
    expect(readdirSync(resumed).sort()).toEqual(["checkpoint.pth", "checkpoint0040.pth", "log.jsonl", "notes.txt"]);
    const fresh = folderWith(files);
    prepareRunFolder(fresh, { overwrite: false, resuming: false });
    expect(readdirSync(fresh).sort()).toEqual(["checkpoint.pth", "checkpoint0040.pth", "notes.txt"]);
    const overwritten = folderWith(files);
    prepareRunFolder(overwritten, { overwrite: true, resuming: false });
    expect(readdirSync(overwritten)).toEqual(["notes.txt"]);
  });

  it("cuts the log back to the checkpoint's iteration: the steps run again appear once", async () => {
    const dir = folderWith({});
    mkdirSync(join(dir, "run"));
    const log = join(dir, "run", "log.jsonl");
    const knn = JSON.stringify({ knn: [{ k: 10, top1: 50 }] });
    // steps 1-5 and an evaluation after step 2, then a line torn by a kill
    writeFileSync(log, [line(1), line(2), knn, line(3), line(4), line(5), '{"epoch": 0, "itera'].join("\n"));
    expect(await cutLog(log, 3)).toBe(3);
    expect(readFileSync(log, "utf8")).toBe(`${[line(1), line(2), knn, line(3)].join("\n")}\n`);
    expect(await cutLog(log, 3)).toBe(0);
    expect(await cutLog(log, 0)).toBe(4);
    expect(readFileSync(log, "utf8")).toBe("");
    expect(readdirSync(join(dir, "run"))).toEqual(["log.jsonl"]);
    expect(await cutLog(join(dir, "missing.jsonl"), 3)).toBe(0);
  });
});
