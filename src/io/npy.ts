// NumPy's .npy format (version 1.0): the magic "\x93NUMPY", the version, a little-endian
// uint16 header length, a Python dict literal {'descr', 'fortran_order', 'shape'} padded
// with spaces and a newline so that the data starts at a multiple of 64 bytes, then the
// data in C order.
import type { Tensor, TypedArray } from "../tensor.js";
import { writeFileAtomically } from "./atomic.js";

/** NumPy's dtype string of what Tensor.toArray() returns (half precision arrives as float32). */
function descr(values: TypedArray, dtype: string): string {
  if (values instanceof Float32Array) return "<f4";
  if (values instanceof Float64Array) return "<f8";
  if (values instanceof BigInt64Array) return "<i8";
  if (values instanceof Int32Array) return "<i4";
  if (values instanceof Int8Array) return "|i1";
  return dtype === "bool" ? "|b1" : "|u1";
}

/** The bytes of a .npy file holding `t`. */
export function npyBytes(t: Tensor): Uint8Array {
  const values = t.toArray();
  const shape = t.shape();
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${descr(values, t.dtype())}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const preamble = 10; // magic (6) + version (2) + header length (2)
  header += " ".repeat(63 - ((preamble + header.length) % 64)) + "\n";
  const out = new Uint8Array(preamble + header.length + values.byteLength);
  out.set([0x93, ...Buffer.from("NUMPY", "latin1"), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(Buffer.from(header, "latin1"), preamble);
  out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), preamble + header.length);
  return out;
}

/** Writes `t` as a .npy file, atomically. */
export async function writeNpy(path: string, t: Tensor): Promise<void> {
  await writeFileAtomically(path, npyBytes(t));
}
