// Reads the entries of an uncompressed ("stored") zip archive, as torch.save writes them.

export class ZipError extends Error {
  override name = "ZipError";
}

/** Entry name -> contents (views into `file`, not copies). */
export function readStoredZip(file: Buffer): Map<string, Buffer> {
  // Each record is checked to lie in the file before its fields are read: a corrupt archive
  // may point anywhere.
  const inside = (at: number, length: number, what: string) => {
    if (at + length > file.length) throw new ZipError(`${what} lies past the end of the file (truncated or corrupt archive)`);
  };
  // The end-of-central-directory record sits in the last 22 + 65535 bytes.
  let eocd = -1;
  for (let i = file.length - 22; i >= Math.max(0, file.length - 22 - 65535); i--) {
    if (file.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ZipError("not a zip archive (no end-of-central-directory record)");
  const count = file.readUInt16LE(eocd + 10);
  let at = file.readUInt32LE(eocd + 16);
  if (at === 0xffffffff || count === 0xffff) throw new ZipError("zip64 archives (files over 4 GiB) are not supported");
  const entries = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    inside(at, 46, "the central directory");
    if (file.readUInt32LE(at) !== 0x02014b50) throw new ZipError("corrupt central directory");
    const method = file.readUInt16LE(at + 10);
    const size = file.readUInt32LE(at + 20);
    const nameLength = file.readUInt16LE(at + 28);
    const extraLength = file.readUInt16LE(at + 30);
    const commentLength = file.readUInt16LE(at + 32);
    const local = file.readUInt32LE(at + 42);
    inside(at + 46, nameLength, "the central directory");
    const name = file.toString("utf8", at + 46, at + 46 + nameLength);
    if (method !== 0) throw new ZipError(`entry ${name} is compressed (method ${method}); only stored entries are supported`);
    inside(local, 30, `the local header of ${name}`);
    if (file.readUInt32LE(local) !== 0x04034b50) throw new ZipError(`corrupt local header of ${name}`);
    const start = local + 30 + file.readUInt16LE(local + 26) + file.readUInt16LE(local + 28);
    if (start + size > file.length) throw new ZipError(`entry ${name} runs past the end of the file`);
    entries.set(name, file.subarray(start, start + size));
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}
