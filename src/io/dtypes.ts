// Raw little-endian bytes of a given dtype (PyTorch's names) -> a typed array tensor() takes.
import type { TypedArray } from "../tensor.js";

export const BYTES_PER_ELEMENT: Record<string, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** Shapes, strides and offsets read from a file: non-negative integers (checked before use). */
export const isIndex = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
export const isIndexList = (value: unknown): value is number[] => Array.isArray(value) && value.every(isIndex);
export const elementCount = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * PyTorch's name of the dtype that Tensor.toArray() returned `values` in (half precision
 * arrives as float32; `dtype` tells bool from uint8).
 */
export function dtypeOfArray(values: TypedArray, dtype: string): string {
  if (values instanceof Float32Array) return "float32";
  if (values instanceof Float64Array) return "float64";
  if (values instanceof BigInt64Array) return "int64";
  if (values instanceof Int32Array) return "int32";
  if (values instanceof Int8Array) return "int8";
  return dtype === "bool" ? "bool" : "uint8";
}

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/**
 * A typed array holding a copy of `bytes` read as `dtype`. float16 and bfloat16 come back
 * as Float32Array, bool as Uint8Array, int16 as Int32Array.
 */
export function typedArrayFromBytes(dtype: string, bytes: Uint8Array, where: string): TypedArray {
  const copy = new Uint8Array(bytes); // aligned, and not a view of a larger buffer
  const buf = copy.buffer;
  switch (dtype) {
    case "float32":
      return new Float32Array(buf);
    case "float64":
      return new Float64Array(buf);
    case "int64":
      return new BigInt64Array(buf);
    case "int32":
      return new Int32Array(buf);
    case "int16":
      return Int32Array.from(new Int16Array(buf));
    case "int8":
      return new Int8Array(buf);
    case "uint8":
    case "bool":
      return copy;
    case "float16":
      return Float32Array.from(new Uint16Array(buf), halfToFloat);
    case "bfloat16": {
      const half = new Uint16Array(buf);
      const out = new Uint32Array(half.length);
      for (let i = 0; i < half.length; i++) out[i] = half[i]! << 16;
      return new Float32Array(out.buffer);
    }
    default:
      throw new Error(`${where} has dtype ${dtype}, which sere-torch cannot read`);
  }
}
