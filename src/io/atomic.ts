// Files written whole or not at all: a crash during the write leaves any old file intact.
// The native writer does it for TypeScript and C++ alike (native/runtime/files.cc).
import { native } from "../native/load.js";

/** The suffix of the temporary file a write goes through; runs remove stale ones on start. */
export const PARTIAL_SUFFIX = ".partial";

export async function writeFileAtomically(path: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
  await native().writeFileAtomically(path, data instanceof Uint8Array ? [data] : data);
}
