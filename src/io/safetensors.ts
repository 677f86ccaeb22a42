// The safetensors format: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}, "__metadata__"?: {...}}, then the raw data.
import { readFile } from "node:fs/promises";

import { tensor, type Tensor } from "../tensor.js";
import { writeFileAtomically } from "./atomic.js";
import { dtypeOfArray, typedArrayFromBytes } from "./dtypes.js";

type Entries = Array<[string, Tensor]>;

/** safetensors' dtype codes -> PyTorch's names, and back. */
const DTYPE_NAMES: Record<string, string> = {
  F32: "float32", F64: "float64", F16: "float16", BF16: "bfloat16", I64: "int64", I32: "int32", I16: "int16", I8: "int8", U8: "uint8", BOOL: "bool",
};
const DTYPE_CODES: Record<string, string> = Object.fromEntries(Object.entries(DTYPE_NAMES).map(([code, name]) => [name, code]));

/** Writes tensors as a .safetensors file, atomically (a crash leaves any old file intact). */
export async function writeSafetensors(path: string, entries: Entries, metadata: Record<string, string> = {}): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    const values = t.toArray();
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    header[name] = { dtype: DTYPE_CODES[dtypeOfArray(values, t.dtype())], shape: t.shape(), data_offsets: [offset, offset + bytes.length] };
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


/** Reads every tensor of a .safetensors file (half precision comes back as float32). */
export async function readSafetensors(path: string): Promise<Entries> {
  const file = await readFile(path);
  const corrupt = (why: string) => new Error(`${path} is not a valid safetensors file: ${why}`);
  if (file.length < 8) throw corrupt("shorter than its 8-byte header length");
  const headerLength = Number(file.readBigUInt64LE(0));
  if (8 + headerLength > file.length) throw corrupt("header length beyond the end of the file");
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(file.subarray(8, 8 + headerLength).toString("utf8"));
  } catch {
    throw corrupt("header is not JSON");
  }
  const data = file.subarray(8 + headerLength);
  const entries: Entries = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const [start, end] = info.data_offsets;
    if (!(start >= 0 && end >= start && end <= data.length)) throw corrupt(`data of ${name} lies outside the file`);
    const dtype = DTYPE_NAMES[info.dtype] ?? info.dtype;
    entries.push([name, tensor(typedArrayFromBytes(dtype, data.subarray(start, end), `${path}: tensor ${name}`), info.shape)]);
  }
  return entries;
}
