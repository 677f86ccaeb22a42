// Files written whole or not at all: a crash during the write leaves any old file intact.
import { rename, writeFile } from "node:fs/promises";

export async function writeFileAtomically(path: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
  const partial = `${path}.partial`;
  await writeFile(partial, data instanceof Uint8Array ? data : Buffer.concat(data));
  await rename(partial, path);
}
