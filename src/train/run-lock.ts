// One writer per output folder. A second run started into the folder of a running one (a
// second terminal, a scheduler's retry) would interleave their logs and checkpoints, and with
// --overwrite delete the first run's checkpoints under it. The folder's run.lock names the
// process that writes there; a lock whose process is gone (killed before it could clean up)
// is taken over.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

import { ConfigError, type FieldNames, settingName } from "../config/parse.js";

export const RUN_LOCK = "run.lock";

interface Holder {
  pid: number;
  host: string;
  started: string;
}

function readHolder(path: string): Holder | undefined {
  try {
    const h = JSON.parse(readFileSync(path, "utf8")) as Partial<Holder>;
    return typeof h.pid === "number" && typeof h.host === "string" ? { pid: h.pid, host: h.host, started: String(h.started) } : undefined;
  } catch {
    return undefined; // gone meanwhile, or cut short by a kill: nobody holds it
  }
}

/** Whether the holder's process still runs; on another machine that cannot be told, so it counts as running. */
function runs(holder: Holder): boolean {
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM"; // it runs, as another user
  }
}

function heldError(holder: Holder, dir: string, names: FieldNames): ConfigError {
  return new ConfigError(
    `another run (process ${holder.pid} on ${holder.host}, started ${holder.started}) is writing to ${dir}: ` +
      `wait for it or stop it, or give another ${settingName("outputDir", names)} (if no run writes there, delete ${join(dir, RUN_LOCK)})`,
  );
}

/**
 * Throws what RunLock.take would where a running process holds the lock of the folder `dir`,
 * taking nothing: checked first, so that a folder in use is named as such rather than as a
 * folder of an earlier run.
 */
export function refuseFolderInUse(dir: string, names: FieldNames = "flags"): void {
  const holder = readHolder(join(dir, RUN_LOCK));
  if (holder && runs(holder)) throw heldError(holder, dir, names);
}

export class RunLock {
  private path: string | undefined;
  // a process that quits at once (process.exit: a second Ctrl-C) gives the lock back too
  private readonly releaseOnExit = () => this.release();

  /** Takes the lock of the folder `dir`, or throws a ConfigError naming the run that holds it (`names`: how it names the settings). */
  take(dir: string, names: FieldNames = "flags"): void {
    const path = join(dir, RUN_LOCK);
    const mine = `${JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString() })}\n`;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        writeFileSync(path, mine, { flag: "wx" });
        this.path = path;
        process.once("exit", this.releaseOnExit);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const holder = readHolder(path);
      if (holder && runs(holder)) throw heldError(holder, dir, names);
      rmSync(path, { force: true });
    }
    throw new ConfigError(`cannot take ${path}: it comes back each time it is removed; delete it when no run writes to ${dir}`);
  }

  /** Gives the lock back (nothing when none was taken). */
  release(): void {
    if (this.path) rmSync(this.path, { force: true });
    this.path = undefined;
    process.off("exit", this.releaseOnExit);
  }
}

/** Runs `body` with a lock it may take; the lock is given back when `body` ends, however it ends. */
export async function withRunLock<T>(body: (lock: RunLock) => Promise<T>): Promise<T> {
  const lock = new RunLock();
  try {
    return await body(lock);
  } finally {
    lock.release();
  }
}
