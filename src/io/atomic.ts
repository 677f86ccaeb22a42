// Files written whole or not at all: a crash during the write leaves any old file intact.
// The native writer does it for TypeScript and C++ alike (native/runtime/files.cc).
import { closeSync, copyFileSync, fsyncSync, linkSync, openSync, renameSync, rmSync } from "node:fs";

import { native } from "../native/load.js";

/** The suffix of the temporary file a write goes through; runs remove stale ones on start. */
export const PARTIAL_SUFFIX = ".partial";

export async function writeFileAtomically(path: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
  await native().writeFileAtomically(path, data instanceof Uint8Array ? [data] : data);
}

/**
 * Keeps `to` as a copy of `from` as it is now, whole or not at all: a hard link where the
 * file system allows (the atomic writer replaces `from` with a new file, so the link keeps
 * the old contents), else a copy flushed to disk, either way through `to.partial`.
 */
export function copyFileAtomically(from: string, to: string): void {
  const partial = `${to}${PARTIAL_SUFFIX}`;
  rmSync(partial, { force: true });
  try {
    linkSync(from, partial);
  } catch {
    copyFileSync(from, partial);
    const fd = openSync(partial, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  renameSync(partial, to);
}
