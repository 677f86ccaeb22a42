// NumPy's .npy format (version 1.0): the magic "\x93NUMPY", the version, a little-endian
// uint16 header length, a Python dict literal {'descr', 'fortran_order', 'shape'} padded
// with spaces and a newline so that the data starts at a multiple of 64 bytes, then the
// data in C order.
import type { Tensor } from "../tensor.js";
import { writeFileAtomically } from "./atomic.js";
import { dtypeOfArray } from "./dtypes.js";

/** NumPy's dtype strings of PyTorch's names. */
const DESCR: Record<string, string> = { float32: "<f4", float64: "<f8", int64: "<i8", int32: "<i4", int8: "|i1", uint8: "|u1", bool: "|b1" };

/** The bytes of a .npy file holding `t`. */
export function npyBytes(t: Tensor): Uint8Array {
  const values = t.toArray();
  const shape = t.shape();
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${DESCR[dtypeOfArray(values, t.dtype())]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const preamble = 10; // magic (6) + version (2) + header length (2)
  header += `${" ".repeat(63 - ((preamble + header.length) % 64))}\n`;
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
