// Hand-made torch.save files for the reader's tests: a stored zip around a pickle program
// written opcode by opcode, so broken and hostile files need no binary fixtures.
import { writeFileSync } from "node:fs";
import { crc32 } from "node:zlib";

/** An uncompressed zip archive of `entries`, with the CRCs the reader checks. */
export function storedZip(entries: Record<string, Buffer>): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(entries)) {
    const nameBytes = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const record = Buffer.alloc(46);
    record.writeUInt32LE(0x02014b50, 0);
    record.writeUInt32LE(crc, 16);
    record.writeUInt32LE(data.length, 20);
    record.writeUInt32LE(data.length, 24);
    record.writeUInt16LE(nameBytes.length, 28);
    record.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    central.push(record, nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(entries).length, 8);
  end.writeUInt16LE(Object.keys(entries).length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** Pickle opcodes, as bytes. */
export const op = {
  proto: Buffer.from([0x80, 0x02]),
  emptyDict: Buffer.from("}"),
  mark: Buffer.from("("),
  tuple: Buffer.from("t"),
  tuple2: Buffer.from([0x86]),
  reduce: Buffer.from("R"),
  setitem: Buffer.from("s"),
  setitems: Buffer.from("u"),
  binput: (i: number) => Buffer.from([0x71, i]),
  binget: (i: number) => Buffer.from([0x68, i]),
  binpersid: Buffer.from("Q"),
  none: Buffer.from("N"),
  stop: Buffer.from("."),
  global: (module: string, name: string) => Buffer.from(`c${module}\n${name}\n`),
  str: (s: string) => Buffer.concat([Buffer.from([0x8c, Buffer.byteLength(s)]), Buffer.from(s)]),
  int: (n: number) => {
    const b = Buffer.alloc(5);
    b[0] = 0x4a; // BININT
    b.writeInt32LE(n, 1);
    return b;
  },
};

const ints = (values: number[]) => Buffer.concat([op.mark, ...values.map(op.int), op.tuple]);

/** The pickle of the call that rebuilds a float32 tensor over storage "0" with this layout. */
function rebuildTensor(layout: { offset: number; shape: number[]; stride: number[] }, storageElements: number): Buffer {
  const storage = Buffer.concat([
    op.mark,
    op.str("storage"),
    op.global("torch", "FloatStorage"),
    op.str("0"),
    op.str("cpu"),
    op.int(storageElements),
    op.tuple,
    op.binpersid,
  ]);
  return Buffer.concat([
    op.global("torch._utils", "_rebuild_tensor_v2"),
    op.mark,
    storage,
    op.int(layout.offset),
    ints(layout.shape),
    ints(layout.stride),
    Buffer.from([0x89]),
    op.none,
    op.tuple,
    op.reduce,
  ]);
}

/** The pickle of {name: tensor} for a float32 tensor over storage "0" with this layout. */
export function tensorDictPickle(name: string, layout: { offset: number; shape: number[]; stride: number[] }, storageElements: number): Buffer {
  return Buffer.concat([op.proto, op.emptyDict, op.str(name), rebuildTensor(layout, storageElements), op.setitem, op.stop]);
}

/** The pickle of {"k0": t, "k1": t, ...}: `keys` names for one contiguous float32 tensor of storage "0" (memoised). */
export function repeatedTensorPickle(keys: number, elements: number): Buffer {
  const first = Buffer.concat([op.str("k0"), rebuildTensor({ offset: 0, shape: [elements], stride: [1] }, elements), op.binput(0)]);
  const more = Array.from({ length: keys - 1 }, (_, i) => Buffer.concat([op.str(`k${i + 1}`), op.binget(0)]));
  return Buffer.concat([op.proto, op.emptyDict, op.mark, first, ...more, op.setitems, op.stop]);
}

/** Writes a torch.save-style archive: archive/data.pkl, archive/data/<key> storages and archive/version. */
export function writeTorchFile(path: string, pickle: Buffer, storages: Record<string, Buffer> = {}): string {
  const entries: Record<string, Buffer> = { "archive/data.pkl": pickle };
  for (const [key, bytes] of Object.entries(storages)) entries[`archive/data/${key}`] = bytes;
  entries["archive/version"] = Buffer.from("3\n");
  writeFileSync(path, storedZip(entries));
  return path;
}
