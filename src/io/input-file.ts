// The checkpoint or weights file a command reads: a missing path or a folder given in its
// place is named as such, not left to the reader's bare ENOENT or EISDIR.
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";

/** The size in bytes of the weights file at `path`; throws an Error naming what is wrong. */
export async function weightsFileSize(path: string): Promise<number> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new Error(`${path}: there is no such file; give the path of a checkpoint or weights file`);
  if (info.isDirectory()) {
    const inside = join(path, "checkpoint.pth");
    throw new Error(`${path} is a folder; give the checkpoint or weights file itself${existsSync(inside) ? ` (${inside})` : ""}`);
  }
  return info.size;
}
