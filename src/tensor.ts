// Tensors handed to and read back from native code.
import { native } from "./native/load.js";
import type { NativeTensor, NativeTypedArray } from "./native/surface.js";

export type Tensor = NativeTensor;
export type TypedArray = NativeTypedArray;

/** A native tensor holding a copy of `data`, laid out row-major in `shape`. */
export function tensor(data: TypedArray, shape: readonly number[]): Tensor {
  const bad = shape.findIndex((d) => !Number.isInteger(d) || d < 0);
  if (bad >= 0) throw new RangeError(`tensor(): shape[${bad}] must be a non-negative integer, got ${String(shape[bad])}`);
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== data.length) {
    throw new RangeError(`tensor(): data has ${data.length} elements but shape [${shape.join(", ")}] needs ${size}`);
  }
  return new (native().Tensor)(data, shape);
}

/** Matrix product (LibTorch's matmul), computed off the JavaScript thread. */
export function matmul(a: Tensor, b: Tensor): Promise<Tensor> {
  return native().matmul(a, b);
}
