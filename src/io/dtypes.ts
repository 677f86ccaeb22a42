// Dtypes by PyTorch's names: their sizes, and the typed arrays Tensor.toArray() gives.
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
