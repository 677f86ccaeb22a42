// The safetensors format: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}, "__metadata__"?: {...}}, then the raw data.
import { open } from "node:fs/promises";

import { native } from "../native/load.js";
import type { Tensor } from "../tensor.js";
import { writeFileAtomically } from "./atomic.js";
import { BYTES_PER_ELEMENT, elementCount, isIndexList } from "./dtypes.js";
import { weightsFileSize } from "./input-file.js";

type Entries = Array<[string, Tensor]>;

/** safetensors' dtype codes -> PyTorch's names, and back. */
const DTYPE_NAMES: Record<string, string> = {
  F32: "float32",
  F64: "float64",
  F16: "float16",
  BF16: "bfloat16",
  I64: "int64",
  I32: "int32",
  I16: "int16",
  I8: "int8",
  U8: "uint8",
  BOOL: "bool",
};
const DTYPE_CODES: Record<string, string> = Object.fromEntries(Object.entries(DTYPE_NAMES).map(([code, name]) => [name, code]));

/** Writes tensors as a .safetensors file, atomically (a crash leaves any old file intact). */
export async function writeSafetensors(path: string, entries: Entries, metadata: Record<string, string> = {}): Promise<void> {
  checkNames(path, entries);
  const header: Record<string, unknown> = { __metadata__: metadata };
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    // Every tensor as it is held: its own dtype, its bytes as they lie in memory.
    const dtype = DTYPE_CODES[t.dtype()];
    if (dtype === undefined) {
      throw new Error(
        `${path}: tensor ${name} is ${t.dtype()}, which safetensors files here cannot hold (${Object.values(DTYPE_NAMES).join(", ")}); convert it first`,
      );
    }
    const bytes = t.bytes();
    header[name] = { dtype, shape: t.shape(), data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8); // keeps the data 8-byte aligned
  const jsonBytes = Buffer.from(json, "utf8");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(jsonBytes.length));
  await writeFileAtomically(path, [length, jsonBytes, ...chunks]);
}

/**
 * Refuses names the header cannot hold apart: one name twice (the header keeps one entry, and
 * the file reads back as data that belongs to no tensor), none, or the header's own
 * "__metadata__".
 */
function checkNames(path: string, entries: Entries): void {
  const seen = new Set<string>();
  for (const [i, [name]] of entries.entries()) {
    if (typeof name !== "string" || name === "" || name === "__metadata__") {
      throw new Error(
        `${path}: tensor ${i} is named ${JSON.stringify(name) ?? String(name)}; give every tensor a name of its own (a non-empty string other than "__metadata__")`,
      );
    }
    if (seen.has(name)) throw new Error(`${path}: two tensors are named ${JSON.stringify(name)}; give every tensor a name of its own`);
    seen.add(name);
  }
}

/** A tensor as a safetensors header lists it, its data at [start, end) of the data section. */
interface HeaderEntry {
  name: string;
  dtype: string;
  shape: number[];
  start: number;
  end: number;
}

/**
 * The tensors a header lists, checked against the format before any data is copied: each
 * with a known dtype, a shape of non-negative sizes and data_offsets spanning exactly shape x
 * dtype size, and together tiling the data section (no overlaps, no gaps) as the format requires.
 */
function headerEntries(header: unknown, dataLength: number, corrupt: (why: string) => Error): HeaderEntry[] {
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw corrupt("the header is not a JSON object");
  const entries: HeaderEntry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const { dtype, shape, data_offsets: offsets } = (typeof info === "object" && info !== null ? info : {}) as Record<string, unknown>;
    if (typeof dtype !== "string") throw corrupt(`tensor ${name} has no dtype`);
    const size = BYTES_PER_ELEMENT[DTYPE_NAMES[dtype] ?? ""];
    if (size === undefined)
      throw corrupt(`tensor ${name} has dtype ${dtype}, which sere-torch cannot read (it reads ${Object.keys(DTYPE_NAMES).join(", ")})`);
    if (!isIndexList(shape)) throw corrupt(`tensor ${name} has no valid shape (a list of non-negative integers)`);
    if (!isIndexList(offsets) || offsets.length !== 2 || offsets[1]! < offsets[0]!)
      throw corrupt(`tensor ${name} has no valid data_offsets ([begin, end] in bytes)`);
    const [start, end] = offsets as [number, number];
    if (end > dataLength) throw corrupt(`the data of tensor ${name} (bytes ${start} to ${end}) lies outside the data section (${dataLength} bytes)`);
    const needed = elementCount(shape) * size;
    if (end - start !== needed)
      throw corrupt(`tensor ${name} of shape [${shape.join(", ")}] and dtype ${dtype} needs ${needed} bytes; its data_offsets span ${end - start}`);
    entries.push({ name, dtype: DTYPE_NAMES[dtype]!, shape, start, end });
  }
  const byStart = [...entries].sort((a, b) => a.start - b.start || a.end - b.end);
  let covered = 0;
  byStart.forEach((entry, i) => {
    if (entry.start < covered) throw corrupt(`the data of tensor ${entry.name} overlaps that of tensor ${byStart[i - 1]!.name}`);
    if (entry.start > covered) throw corrupt(`bytes ${covered} to ${entry.start} of the data section belong to no tensor`);
    covered = entry.end;
  });
  if (covered !== dataLength) throw corrupt(`bytes ${covered} to ${dataLength} of the data section belong to no tensor`);
  return entries;
}

/**
 * Reads every tensor of a .safetensors file, in its stored dtype. The header is read here; the
 * data goes from the file straight into native memory, so files of any size read.
 */
export async function readSafetensors(path: string): Promise<Entries> {
  const corrupt = (why: string) => new Error(`${path} is not a valid safetensors file: ${why}`);
  const size = await weightsFileSize(path);
  const file = await open(path, "r");
  try {
    const read = async (at: number, length: number) => (await file.read(Buffer.alloc(length), 0, length, at)).buffer;
    if (size < 8) throw corrupt("shorter than its 8-byte header length");
    const headerLength = Number((await read(0, 8)).readBigUInt64LE(0));
    if (8 + headerLength > size) throw corrupt("header length beyond the end of the file");
    let header: unknown;
    try {
      header = JSON.parse((await read(8, headerLength)).toString("utf8"));
    } catch {
      throw corrupt("header is not JSON");
    }
    const dataStart = 8 + headerLength;
    const listed = headerEntries(header, size - dataStart, corrupt);
    const tensors = await native().readTensorsAt(
      file.fd,
      path,
      listed.map(({ dtype, shape, start }) => ({ offset: dataStart + start, dtype, shape })),
    );
    return listed.map(({ name }, i): [string, Tensor] => [name, tensors[i]!]);
  } finally {
    await file.close();
  }
}
