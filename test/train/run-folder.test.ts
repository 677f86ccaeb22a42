// The output folder a run takes over: an earlier run's files are never lost or mixed up.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { checkRunFolder, cutLog, describeRunFiles, prepareRunFolder, undoFailedStart } from "../../src/train/run-folder.js";
import { Trainer } from "../../src/train/trainer.js";

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
    // --overwrite would delete the weights the run starts from
    expect(() => checkRunFolder(dir, { resume: false, overwrite: true, weights: join(dir, "checkpoint.pth") })).toThrow(
      `--overwrite would delete ${join(dir, "checkpoint.pth")}, which --pretrained-weights starts this run from: copy it out of ${dir} first, or give another --output-dir`,
    );
    checkRunFolder(dir, { resume: false, overwrite: true, weights: join(dir, "exported.safetensors") }); // a file overwrite keeps
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
    // a fine-tuning run's best checkpoint and result are the earlier run's too: named, and gone with --overwrite
    const fineTuned = folderWith({ ...files, "best.pth": "b", "result.json": "{}" });
    expect(() => checkRunFolder(fineTuned, { resume: false, overwrite: false })).toThrow(
      /holds an earlier run \(best\.pth, checkpoint\.pth, checkpoint0040\.pth, log\.jsonl, result\.json\)/,
    );
    prepareRunFolder(fineTuned, { overwrite: true, resuming: false });
    expect(readdirSync(fineTuned)).toEqual(["notes.txt"]);
  });

  it("says which files a run wrote, numbered checkpoints as a range, and nothing else of the folder", () => {
    const files = { "config.json": "{}", "log.jsonl": line(1), "checkpoint.pth": "c", "notes.txt": "mine", "run.lock": "{}" };
    expect(describeRunFiles(folderWith(files))).toBe("checkpoint.pth, config.json, log.jsonl");
    const numbered = { ...files, "checkpoint0001.pth": "c", "checkpoint0002.pth": "c", "checkpoint0003.pth": "c" };
    expect(describeRunFiles(folderWith(numbered))).toBe(
      "checkpoint.pth, config.json, log.jsonl, 3 numbered checkpoints (checkpoint0001.pth to checkpoint0003.pth)",
    );
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

describe("a start that fails", () => {
  const failing = (dir: string, files: string[]) => async () => {
    mkdirSync(dir, { recursive: true });
    for (const name of files) writeFileSync(join(dir, name), "");
    throw new Error("bad data");
  };

  it("leaves no folder it made and no settings it wrote, unless the run wrote a log or a checkpoint; never a folder that was there", async () => {
    const root = mkdtempSync(join(tmpdir(), "sere-failed-start-"));
    const made = join(root, "made");
    await expect(undoFailedStart(made, true, failing(made, ["config.json", "events.out.tfevents.1.host"]))).rejects.toThrow("bad data");
    expect(existsSync(made)).toBe(false);
    const stepped = join(root, "stepped");
    await expect(undoFailedStart(stepped, true, failing(stepped, ["config.json", "log.jsonl"]))).rejects.toThrow("bad data");
    expect(readdirSync(stepped)).toEqual(["config.json", "log.jsonl"]);
    // made with its parents: they go too
    const nested = join(root, "new", "deep", "run");
    await expect(undoFailedStart(nested, true, failing(nested, ["config.json"]))).rejects.toThrow("bad data");
    expect(existsSync(join(root, "new"))).toBe(false);
    // a folder that was there stays, without the settings and TensorBoard file the run wrote
    const there = folderWith({ "notes.txt": "mine" });
    await expect(undoFailedStart(there, true, failing(there, ["config.json", "events.out.tfevents.1.host"]))).rejects.toThrow("bad data");
    expect(readdirSync(there)).toEqual(["notes.txt"]);
    // another rank's process: the writer's folder is its to keep or remove
    const otherRank = join(root, "other-rank");
    await expect(undoFailedStart(otherRank, false, failing(otherRank, ["config.json"]))).rejects.toThrow("bad data");
    expect(existsSync(otherRank)).toBe(true);
  });

  it("of training on a folder of no images leaves no output folder", async () => {
    const root = mkdtempSync(join(tmpdir(), "sere-failed-run-"));
    mkdirSync(join(root, "empty"));
    const outputDir = join(root, "runs", "mine");
    await expect(new Trainer({ dataPath: join(root, "empty"), outputDir }, { progress: false }).fit()).rejects.toThrow(/no images/);
    expect(existsSync(outputDir)).toBe(false);
  });
});
