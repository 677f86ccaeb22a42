// Reads files written by PyTorch's torch.save (the zip format, default since PyTorch 1.6):
// a pickle program (data.pkl) whose tensors point at raw storages (data/<key>). Only
// the pickle opcodes and globals that checkpoints use are understood; any other class
// (argparse.Namespace in a training checkpoint, say) becomes an opaque object, so the
// tensors around it can still be read.
import { readFile } from "node:fs/promises";

import { tensor, type Tensor } from "../tensor.js";
import { BYTES_PER_ELEMENT, typedArrayFromBytes } from "./dtypes.js";
import { readStoredZip } from "./zip.js";

/** A tensor as stored: dtype, shape and strides over a storage of raw bytes. */
export interface StoredTensor {
  kind: "tensor";
  dtype: string;
  shape: number[];
  stride: number[];
  offset: number;
  storage: Buffer;
}

/** An instance of a class this reader does not know, kept with what was given to it. */
export interface OpaqueObject {
  kind: "object";
  className: string;
  args: unknown[];
  state?: unknown;
}

export type PickleValue = unknown;

/** Storage classes of torch.save -> (dtype, bytes per element). */
const STORAGES: Record<string, [string, number]> = {
  FloatStorage: ["float32", 4],
  DoubleStorage: ["float64", 8],
  HalfStorage: ["float16", 2],
  BFloat16Storage: ["bfloat16", 2],
  LongStorage: ["int64", 8],
  IntStorage: ["int32", 4],
  ShortStorage: ["int16", 2],
  CharStorage: ["int8", 1],
  ByteStorage: ["uint8", 1],
  BoolStorage: ["bool", 1],
};

class TorchLoadError extends Error {
  override name = "TorchLoadError";
}

const MARK = Symbol("mark");
type Global = { module: string; name: string };

/** Reads a torch.save file into plain values: Maps for dicts, arrays, StoredTensors. */
export async function torchLoad(path: string): Promise<PickleValue> {
  const file = await readFile(path);
  let entries: Map<string, Buffer>;
  try {
    entries = readStoredZip(file);
  } catch (err) {
    throw new TorchLoadError(
      `${path} is not a torch.save file of the zip format (${(err as Error).message}). ` +
        "Re-save it in Python with torch.save(obj, path) (PyTorch >= 1.6 writes this format by default).",
    );
  }
  const pkl = [...entries.keys()].find((name) => name.endsWith("/data.pkl") || name === "data.pkl");
  if (!pkl) throw new TorchLoadError(`${path} is a zip archive but not a torch.save file (no data.pkl)`);
  const prefix = pkl.slice(0, pkl.length - "data.pkl".length);
  const storage = (key: string) => {
    const bytes = entries.get(`${prefix}data/${key}`);
    if (!bytes) throw new TorchLoadError(`${path}: storage ${key} is missing from the archive (truncated file?)`);
    return bytes;
  };
  try {
    return unpickle(entries.get(pkl)!, storage);
  } catch (err) {
    if (err instanceof TorchLoadError) throw err;
    throw new TorchLoadError(`${path}: cannot read its pickle data (${(err as Error).message})`);
  }
}

function unpickle(data: Buffer, storage: (key: string) => Buffer): PickleValue {
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let at = 0;
  const u8 = () => data[at++]!;
  const u16 = () => ((at += 2), data.readUInt16LE(at - 2));
  const u32 = () => ((at += 4), data.readUInt32LE(at - 4));
  const text = (n: number) => ((at += n), data.toString("utf8", at - n, at));
  const bytes = (n: number) => ((at += n), data.subarray(at - n, at));
  const pop = () => stack.pop();
  const popMark = (): unknown[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) throw new Error("MARK expected");
    const items = stack.splice(i + 1);
    stack.pop();
    return items;
  };
  const top = () => stack[stack.length - 1];
  const setItems = (dict: unknown, items: unknown[]) => {
    if (!(dict instanceof Map)) return; // items given to an opaque object's dict: ignore
    for (let i = 0; i + 1 < items.length; i += 2) dict.set(items[i], items[i + 1]);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: at += 8; break; // FRAME
      case 0x2e: return pop(); // STOP
      case 0x28: stack.push(MARK); break;
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x8f: stack.push(new Set()); break; // EMPTY_SET
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4a: stack.push(((at += 4), data.readInt32LE(at - 4))); break; // BININT
      case 0x8a: { // LONG1
        const n = u8();
        let value = 0n;
        for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(data[at + i]!);
        if (n > 0 && data[at + n - 1]! & 0x80) value -= 1n << BigInt(8 * n);
        at += n;
        stack.push(Number(value));
        break;
      }
      case 0x47: stack.push(((at += 8), data.readDoubleBE(at - 8))); break; // BINFLOAT
      case 0x58: stack.push(text(u32())); break; // BINUNICODE
      case 0x8c: stack.push(text(u8())); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(text(Number(((at += 8), data.readBigUInt64LE(at - 8))))); break; // BINUNICODE8
      case 0x55: stack.push(text(u8())); break; // SHORT_BINSTRING
      case 0x54: stack.push(text(u32())); break; // BINSTRING
      case 0x43: stack.push(bytes(u8())); break; // SHORT_BINBYTES
      case 0x42: stack.push(bytes(u32())); break; // BINBYTES
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); stack.push([pop(), b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); stack.push([pop(), b, c]); break; } // TUPLE3
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x64: { const items = popMark(); const d = new Map(); setItems(d, items); stack.push(d); break; } // DICT
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x61: { const v = pop(); (top() as unknown[]).push?.(v); break; } // APPEND
      case 0x65: { const items = popMark(); (top() as unknown[]).push?.(...items); break; } // APPENDS
      case 0x90: { const items = popMark(); for (const i of items) (top() as Set<unknown>).add?.(i); break; } // ADDITEMS
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: stack.push(memo.get(u8())); break; // BINGET
      case 0x6a: stack.push(memo.get(u32())); break; // LONG_BINGET
      case 0x63: { // GLOBAL "module\nname\n"
        const end1 = data.indexOf(0x0a, at);
        const module = data.toString("utf8", at, end1);
        const end2 = data.indexOf(0x0a, end1 + 1);
        const name = data.toString("utf8", end1 + 1, end2);
        at = end2 + 1;
        stack.push({ module, name } satisfies Global);
        break;
      }
      case 0x93: { const name = pop() as string; stack.push({ module: pop() as string, name } satisfies Global); break; } // STACK_GLOBAL
      case 0x52: { const args = pop() as unknown[]; stack.push(call(pop() as Global, args)); break; } // REDUCE
      case 0x81: { const args = pop() as unknown[]; stack.push(call(pop() as Global, args)); break; } // NEWOBJ
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        if (obj && typeof obj === "object" && (obj as OpaqueObject).kind === "object") (obj as OpaqueObject).state = state;
        break;
      }
      case 0x51: stack.push(persistentLoad(pop() as unknown[], storage)); break; // BINPERSID
      default:
        throw new Error(`unsupported pickle opcode 0x${op.toString(16)} at byte ${at - 1}`);
    }
  }
}

/** A storage reference: ("storage", storage class, key, location, numel). */
function persistentLoad(pid: unknown[], storage: (key: string) => Buffer): { dtype: string; bytes: Buffer } {
  const [tag, cls, key] = pid as [string, Global, string];
  if (tag !== "storage") throw new Error(`unknown persistent id ${String(tag)}`);
  const type = STORAGES[cls.name];
  if (!type) throw new Error(`unsupported storage type ${cls.module}.${cls.name}`);
  return { dtype: type[0], bytes: storage(String(key)) };
}

function call(fn: Global, args: unknown[]): unknown {
  const qualified = `${fn.module}.${fn.name}`;
  switch (qualified) {
    case "torch._utils._rebuild_tensor_v2":
    case "torch._utils._rebuild_tensor": {
      const [store, offset, shape, stride] = args as [{ dtype: string; bytes: Buffer }, number, number[], number[]];
      return { kind: "tensor", dtype: store.dtype, shape, stride, offset, storage: store.bytes } satisfies StoredTensor;
    }
    case "torch._utils._rebuild_parameter":
    case "torch._utils._rebuild_parameter_with_state":
    case "torch.jit._pickle.restore_type_tag": // LibTorch's pickler tags typed dicts and lists
      return args[0];
    case "collections.OrderedDict":
      return new Map();
    default:
      return { kind: "object", className: qualified, args } satisfies OpaqueObject;
  }
}

export function isStoredTensor(value: unknown): value is StoredTensor {
  return typeof value === "object" && value !== null && (value as StoredTensor).kind === "tensor";
}

/** The elements of a stored tensor in row-major order, as raw bytes (strides applied). */
function rowMajorBytes(t: StoredTensor): Uint8Array {
  const size = BYTES_PER_ELEMENT[t.dtype]!;
  const numel = t.shape.reduce((a, b) => a * b, 1);
  let expected = 1;
  let contiguous = true;
  for (let d = t.shape.length - 1; d >= 0; d--) {
    if (t.shape[d]! !== 1 && t.stride[d] !== expected) contiguous = false;
    expected *= t.shape[d]!;
  }
  const start = t.offset * size;
  if (contiguous) {
    if (start + numel * size > t.storage.length) throw new TorchLoadError("a tensor runs past the end of its storage");
    return t.storage.subarray(start, start + numel * size);
  }
  const out = new Uint8Array(numel * size);
  const index = new Array<number>(t.shape.length).fill(0);
  for (let i = 0; i < numel; i++) {
    let element = t.offset;
    for (let d = 0; d < index.length; d++) element += index[d]! * t.stride[d]!;
    out.set(t.storage.subarray(element * size, element * size + size), i * size);
    for (let d = index.length - 1; d >= 0; d--) {
      if (++index[d]! < t.shape[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}

/** A native tensor holding a copy of a stored tensor (half precision becomes float32). */
export function materialize(t: StoredTensor, where: string): Tensor {
  return tensor(typedArrayFromBytes(t.dtype, rowMajorBytes(t), where), t.shape);
}
