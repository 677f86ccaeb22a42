// One writer per output folder: a second run is refused while the first writes, and a lock
// whose process is gone is taken over.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { RUN_LOCK, RunLock } from "../../src/train/run-lock.js";

const folder = () => mkdtempSync(join(tmpdir(), "sere-lock-"));
const holder = (pid: number, host = hostname()) => JSON.stringify({ pid, host, started: "2026-12-05T03:00:00.000Z" });

describe("RunLock", () => {
  it("holds the folder for one run at a time, naming the holder, until it is given back", () => {
    const dir = folder();
    const first = new RunLock();
    first.take(dir);
    expect(JSON.parse(readFileSync(join(dir, RUN_LOCK), "utf8"))).toMatchObject({ pid: process.pid, host: hostname() });
    expect(() => new RunLock().take(dir)).toThrow(
      new RegExp(
        `^another run \\(process ${process.pid} on ${hostname()}, started .*\\) is writing to ${dir}: wait for it or stop it, or give another --output-dir \\(if no run writes there, delete ${join(dir, RUN_LOCK)}\\)$`,
      ),
    );
    first.release();
    expect(existsSync(join(dir, RUN_LOCK))).toBe(false);
    const second = new RunLock();
    second.take(dir);
    second.release();
    second.release(); // a second release does nothing
  });

  it("takes over the lock of a process that is gone, or of a lock cut short; not one from another machine", () => {
    const dir = folder();
    const gone = spawnSync(process.execPath, ["-e", ""]).pid!;
    writeFileSync(join(dir, RUN_LOCK), holder(gone));
    const lock = new RunLock();
    lock.take(dir);
    expect(JSON.parse(readFileSync(join(dir, RUN_LOCK), "utf8")).pid).toBe(process.pid);
    lock.release();
    writeFileSync(join(dir, RUN_LOCK), '{"pid": 12');
    lock.take(dir);
    lock.release();
    writeFileSync(join(dir, RUN_LOCK), holder(gone, "elsewhere"));
    expect(() => lock.take(dir)).toThrow(`another run (process ${gone} on elsewhere, started 2026-12-05T03:00:00.000Z) is writing to ${dir}`);
  });
});
