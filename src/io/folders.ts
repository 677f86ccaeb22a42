// Output folders, made with their parents. Node's own recursive mkdir loops forever where a
// parent exists but refuses new entries with ENOENT (/proc, /sys), and reports a link to
// nowhere or a file in the way as a bare ENOENT or ENOTDIR: the folders are made one at a time
// instead, and a failure names the part of the path at fault, why, and what to do.
import { existsSync, lstatSync, mkdirSync, readlinkSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** Why `path` cannot hold new folders, or undefined when it is a folder. */
function notAFolder(path: string): string | undefined {
  try {
    return statSync(path).isDirectory() ? undefined : `${path} is a file, not a folder`;
  } catch {
    // stat follows links; lstat does not: a link whose target is missing exists only for lstat.
    return lstatSync(path).isSymbolicLink() ? `${path} is a link to ${readlinkSync(path)}, which does not exist` : undefined;
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function reasonOf(err: NodeJS.ErrnoException, parent: string): string {
  switch (err.code) {
    case "EACCES":
    case "EPERM":
      return `${parent} does not let this user create folders in it`;
    case "EROFS":
      return `${parent} is on a read-only file system`;
    case "ENOSPC":
    case "EDQUOT":
      return `the disk of ${parent} is full`;
    case "ENOENT":
      return `the file system of ${parent} does not take new folders`;
    default:
      return err.message;
  }
}

/**
 * Makes the output folder `path` and its missing parents (nothing when it exists). `setting`:
 * how the caller named the folder (`--output-dir`, `outputDir`), for the error to point at.
 */
export function makeFolder(path: string, setting?: string): void {
  const target = resolve(path);
  const fail = (reason: string): never => {
    const named = setting ? ` (${setting})` : "";
    throw new Error(`cannot create the output folder ${path}: ${reason}; give a folder that can be written${named}`);
  };
  const missing: string[] = [];
  let existing = target;
  while (!exists(existing)) {
    missing.unshift(existing);
    const parent = dirname(existing);
    if (parent === existing) break;
    existing = parent;
  }
  const blocked = notAFolder(existing);
  if (blocked) fail(blocked);
  for (const folder of missing) {
    try {
      mkdirSync(folder);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      // Another process made it meanwhile: fine, if it is a folder.
      if (e.code !== "EEXIST") fail(reasonOf(e, dirname(folder)));
      const blockedNow = notAFolder(folder);
      if (blockedNow) fail(blockedNow);
    }
  }
}

/**
 * Readies the path of an output file a user named (`--output`, `--png`): its folder made as
 * makeFolder makes one, a folder in the file's place refused by name (`fileName`: the name to
 * suggest in it).
 */
export function prepareOutputFile(path: string, fileName: string): void {
  if (existsSync(path) && statSync(path).isDirectory()) {
    throw new Error(`${path} is a folder; give the path of the file to write, e.g. ${join(path, fileName)}`);
  }
  makeFolder(dirname(resolve(path)));
}
