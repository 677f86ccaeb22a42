// The files a command reads (a checkpoint, weights, an image): a missing path or a folder
// given in its place is named as such, not left to the reader's bare ENOENT or EISDIR.
import { existsSync, type Stats } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";

import { describeKind } from "../config/parse.js";

/**
 * `path` where it is a path: a non-empty string. Else a TypeError naming `where` and what the
 * path is of: an empty string would resolve to the working folder, a number or undefined would
 * fail deep in node:path or node:fs.
 */
export function requirePath(path: unknown, where: string, what: string): string {
  if (typeof path === "string" && path !== "") return path;
  const given = typeof path === "object" && path !== null ? describeKind(path) : (JSON.stringify(path) ?? String(path));
  throw new TypeError(`${where}: the path of ${what} must be a non-empty string, given ${given}`);
}

/** Why a file or folder could not be read, in words: "there is no such file", "this user may not read it". */
export function whyUnreadable(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === "ENOENT") return "there is no such file";
  if (e.code === "EISDIR") return "it is a folder, not a file";
  if (e.code === "EACCES" || e.code === "EPERM") return "this user may not read it";
  return e.message;
}

/**
 * The bytes of the regular file at `path`. A pipe or device is refused rather than read: a
 * FIFO named in a dataset would block the read until something writes to it.
 */
export async function readRegularFile(path: string): Promise<Buffer> {
  const info = await stat(path);
  if (info.isDirectory()) throw Object.assign(new Error(`${path} is a folder`), { code: "EISDIR" });
  if (!info.isFile()) throw new Error("it is not a regular file (a pipe, device or socket)");
  return readFile(path);
}

/** What is at `path`, a file; else an Error naming what is wrong, `what` saying what to give. */
async function inputFile(path: string, what: string, hintInFolder = ""): Promise<Stats> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new Error(`${path}: there is no such file; give the path of ${what}`);
  if (info.isDirectory()) throw new Error(`${path} is a folder, not ${what}${hintInFolder}`);
  return info;
}

/** The size in bytes of the weights file at `path`; throws an Error naming what is wrong. */
export async function weightsFileSize(path: string): Promise<number> {
  const inside = join(path, "checkpoint.pth");
  const hint = existsSync(inside) ? `: give the file itself (${inside})` : "";
  return (await inputFile(path, "a checkpoint or weights file", hint)).size;
}

/** The bytes of the image file at `path`; throws an Error naming what is wrong. */
export async function readImageFile(path: string): Promise<Buffer> {
  await inputFile(path, "an image file");
  return readFile(path);
}
