// The safetensors format: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}, "__metadata__"?: {...}}, then the raw data.
import { readFile, rename, writeFile } from "node:fs/promises";

import { tensor, type Tensor, type TypedArray } from "../tensor.js";

type Entries = Array<[string, Tensor]>;

const DTYPE_OF: Record<string, string> = {
  float32: "F32",
  float64: "F64",
  int64: "I64",
  int32: "I32",
  int16: "I16",
  int8: "I8",
  uint8: "U8",
  bool: "BOOL",
  // half precision reaches JS as float32 (Tensor.toArray), and is stored so
  float16: "F32",
  bfloat16: "F32",
};

/** Writes tensors as a .safetensors file, atomically (a crash leaves any old file intact). */
export async function writeSafetensors(path: string, entries: Entries, metadata: Record<string, string> = {}): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    const values = t.toArray();
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    header[name] = { dtype: DTYPE_OF[t.dtype()] ?? "F32", shape: t.shape(), data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8); // keeps the data 8-byte aligned
  const jsonBytes = Buffer.from(json, "utf8");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(jsonBytes.length));
  const partial = `${path}.partial`;
  await writeFile(partial, Buffer.concat([length, jsonBytes, ...chunks]));
  await rename(partial, path);
}

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function decode(dtype: string, bytes: Uint8Array, name: string, path: string): TypedArray {
  const copy = new Uint8Array(bytes); // a copy: aligned, and not a view of the whole file
  const buf = copy.buffer;
  switch (dtype) {
    case "F32":
      return new Float32Array(buf);
    case "F64":
      return new Float64Array(buf);
    case "I64":
      return new BigInt64Array(buf);
    case "I32":
      return new Int32Array(buf);
    case "I8":
      return new Int8Array(buf);
    case "U8":
    case "BOOL":
      return copy;
    case "F16": {
      const half = new Uint16Array(buf);
      return Float32Array.from(half, halfToFloat);
    }
    case "BF16": {
      const half = new Uint16Array(buf);
      const out = new Uint32Array(half.length);
      for (let i = 0; i < half.length; i++) out[i] = half[i]! << 16;
      return new Float32Array(out.buffer);
    }
    default:
      throw new Error(`${path}: tensor ${name} has dtype ${dtype}, which sere-torch cannot read`);
  }
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
    entries.push([name, tensor(decode(info.dtype, data.subarray(start, end), name, path), info.shape)]);
  }
  return entries;
}
