// Reads files written by PyTorch's torch.save (the zip format, default since PyTorch 1.6):
// a pickle program (data.pkl) whose tensors point at raw storages (data/<key>). The archive
// is read natively, through LibTorch's own zip reader (zip64 included: files over 4 GiB),
// and each storage only when a tensor over it is materialized, straight into native memory.
// The pickle program is read here: LibTorch's unpickler refuses classes that checkpoints
// hold (argparse.Namespace in DINO's and iBOT's). Only the opcodes and globals that
// checkpoints use are understood; any other class becomes an opaque object, so the tensors
// around it can still be read.
// Every read stays inside the pickle, every tensor inside its storage, and the copies made of
// a file's tensors are bounded by its size: a broken or hostile file is an error naming it,
// never a hang or a runaway allocation.

import { native } from "../native/load.js";
import type { NativePthArchive } from "../native/surface.js";
import type { Tensor } from "../tensor.js";
import { BYTES_PER_ELEMENT, elementCount, isIndex, isIndexList } from "./dtypes.js";
import { weightsFileSize } from "./input-file.js";

/** A tensor as stored: dtype, shape and strides over a storage of raw bytes. */
export interface StoredTensor {
  kind: "tensor";
  dtype: string;
  shape: number[];
  stride: number[];
  offset: number;
  storage: Storage;
  /** What copying out of the file this tensor came from may still take. */
  copies: CopyBudget;
}

/**
 * The bytes that copying tensors out of one file may take. Tensors can share stored data
 * (views, tied weights, one pickled tensor under many names), so a small file could
 * otherwise be copied out into any amount of memory.
 */
interface CopyBudget {
  path: string;
  bytesLeft: number;
}
/** Copies of a file's tensors may repeat its bytes this many times (tied weights, views, one state dict under two keys). */
const COPY_LIMIT = 4;

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
  const size = await weightsFileSize(path);
  let archive: NativePthArchive;
  try {
    archive = await native().openPth(path);
  } catch (err) {
    throw new TorchLoadError((err as Error).message);
  }
  try {
    return unpickle(archive.pickle(), archive, { path, bytesLeft: COPY_LIMIT * size });
  } catch (err) {
    if (err instanceof TorchLoadError) throw err;
    throw new TorchLoadError(`${path} cannot be read: ${(err as Error).message}`);
  }
}

/**
 * The bytes of a pickle program, read front to back. Every read checks that it stays inside
 * them, so a truncated or garbled pickle is an error, never a read past the end or a loop.
 */
class PickleBytes {
  at = 0;
  constructor(private readonly data: Buffer) {}

  get done(): boolean {
    return this.at >= this.data.length;
  }

  /** Moves past `n` bytes and returns where they start. */
  private take(n: number): number {
    if (!(Number.isSafeInteger(n) && n >= 0 && this.at + n <= this.data.length)) {
      throw new Error(`the pickle data ends inside an opcode at byte ${this.at} of ${this.data.length} (truncated or garbled file)`);
    }
    this.at += n;
    return this.at - n;
  }

  u8 = () => this.data[this.take(1)]!;
  u16 = () => this.data.readUInt16LE(this.take(2));
  u32 = () => this.data.readUInt32LE(this.take(4));
  i32 = () => this.data.readInt32LE(this.take(4));
  u64 = () => Number(this.data.readBigUInt64LE(this.take(8)));
  f64 = () => this.data.readDoubleBE(this.take(8));
  skip = (n: number) => void this.take(n);
  bytes = (n: number) => this.data.subarray(this.take(n), this.at);
  text = (n: number) => this.bytes(n).toString("utf8");

  /** The text up to the next newline, which is consumed too (GLOBAL's operands). */
  line(): string {
    const end = this.data.indexOf(0x0a, this.at);
    if (end < 0) this.take(this.data.length + 1 - this.at); // no newline before the end: the same error as any over-read
    return this.text(end - this.at + 1).slice(0, -1);
  }

  /** A little-endian two's-complement integer of `n` bytes (LONG1). */
  long(n: number): number {
    const raw = this.bytes(n);
    let value = 0n;
    for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(raw[i]!);
    if (n > 0 && raw[n - 1]! & 0x80) value -= 1n << BigInt(8 * n);
    return Number(value);
  }
}

function isGlobal(value: unknown): value is Global {
  return typeof value === "object" && value !== null && typeof (value as Global).module === "string" && typeof (value as Global).name === "string";
}

function unpickle(data: Buffer, archive: NativePthArchive, copies: CopyBudget): PickleValue {
  const r = new PickleBytes(data);
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  const pop = () => {
    if (stack.length === 0) throw new Error(`the pickle data takes a value from an empty stack at byte ${r.at - 1} (garbled file)`);
    return stack.pop();
  };
  const popMark = (): unknown[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) throw new Error("MARK expected");
    const items = stack.splice(i + 1);
    stack.pop();
    return items;
  };
  const top = () => {
    if (stack.length === 0) throw new Error(`the pickle data uses an empty stack at byte ${r.at - 1} (garbled file)`);
    return stack[stack.length - 1];
  };
  const popGlobal = (): Global => {
    const fn = pop();
    if (!isGlobal(fn)) throw new Error(`the pickle data calls something that is not a class or function at byte ${r.at - 1} (garbled file)`);
    return fn;
  };
  const popArgs = (): unknown[] => {
    const args = pop();
    if (!Array.isArray(args)) throw new Error(`the pickle data calls a function without an argument tuple at byte ${r.at - 1} (garbled file)`);
    return args;
  };
  const setItems = (dict: unknown, items: unknown[]) => {
    if (!(dict instanceof Map)) return; // items given to an opaque object's dict: ignore
    for (let i = 0; i + 1 < items.length; i += 2) dict.set(items[i], items[i + 1]);
  };
  const extend = (list: unknown, items: unknown[]) => {
    if (Array.isArray(list)) for (const item of items) list.push(item);
  };

  for (;;) {
    if (r.done) throw new Error("the pickle data ends without a STOP opcode (truncated file)");
    const op = r.u8();
    switch (op) {
      case 0x80:
        r.u8();
        break; // PROTO
      case 0x95:
        r.skip(8);
        break; // FRAME
      case 0x2e:
        return pop(); // STOP
      case 0x28:
        stack.push(MARK);
        break;
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x29:
        stack.push([]);
        break; // EMPTY_TUPLE
      case 0x8f:
        stack.push(new Set());
        break; // EMPTY_SET
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x4b:
        stack.push(r.u8());
        break; // BININT1
      case 0x4d:
        stack.push(r.u16());
        break; // BININT2
      case 0x4a:
        stack.push(r.i32());
        break; // BININT
      case 0x8a:
        stack.push(r.long(r.u8()));
        break; // LONG1
      case 0x47:
        stack.push(r.f64());
        break; // BINFLOAT
      case 0x58:
        stack.push(r.text(r.u32()));
        break; // BINUNICODE
      case 0x8c:
        stack.push(r.text(r.u8()));
        break; // SHORT_BINUNICODE
      case 0x8d:
        stack.push(r.text(r.u64()));
        break; // BINUNICODE8
      case 0x55:
        stack.push(r.text(r.u8()));
        break; // SHORT_BINSTRING
      case 0x54:
        stack.push(r.text(r.u32()));
        break; // BINSTRING
      case 0x43:
        stack.push(r.bytes(r.u8()));
        break; // SHORT_BINBYTES
      case 0x42:
        stack.push(r.bytes(r.u32()));
        break; // BINBYTES
      case 0x85:
        stack.push([pop()]);
        break; // TUPLE1
      case 0x86: {
        const b = pop();
        stack.push([pop(), b]);
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      } // TUPLE3
      case 0x74:
        stack.push(popMark());
        break; // TUPLE
      case 0x6c:
        stack.push(popMark());
        break; // LIST
      case 0x64: {
        const items = popMark();
        const d = new Map();
        setItems(d, items);
        stack.push(d);
        break;
      } // DICT
      case 0x73: {
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      } // SETITEM
      case 0x75: {
        const items = popMark();
        setItems(top(), items);
        break;
      } // SETITEMS
      case 0x61: {
        const v = pop();
        extend(top(), [v]);
        break;
      } // APPEND
      case 0x65: {
        const items = popMark();
        extend(top(), items);
        break;
      } // APPENDS
      case 0x90: {
        const items = popMark();
        const set = top();
        if (set instanceof Set) for (const i of items) set.add(i);
        break;
      } // ADDITEMS
      case 0x71:
        memo.set(r.u8(), top());
        break; // BINPUT
      case 0x72:
        memo.set(r.u32(), top());
        break; // LONG_BINPUT
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x68:
        stack.push(memo.get(r.u8()));
        break; // BINGET
      case 0x6a:
        stack.push(memo.get(r.u32()));
        break; // LONG_BINGET
      case 0x63: {
        const module = r.line();
        stack.push({ module, name: r.line() } satisfies Global);
        break;
      } // GLOBAL "module\nname\n"
      case 0x93: {
        const name = String(pop());
        stack.push({ module: String(pop()), name } satisfies Global);
        break;
      } // STACK_GLOBAL
      case 0x52: {
        const args = popArgs();
        stack.push(call(popGlobal(), args, copies));
        break;
      } // REDUCE
      case 0x81: {
        const args = popArgs();
        stack.push(call(popGlobal(), args, copies));
        break;
      } // NEWOBJ
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        if (obj && typeof obj === "object" && (obj as OpaqueObject).kind === "object") (obj as OpaqueObject).state = state;
        break;
      }
      case 0x51:
        stack.push(persistentLoad(pop(), archive));
        break; // BINPERSID
      default:
        throw new Error(`unsupported pickle opcode 0x${op.toString(16)} at byte ${r.at - 1}`);
    }
  }
}

/** A storage of the archive: `elements` of `dtype` in record data/<key>, read when a tensor over it is materialized. */
interface Storage {
  key: string;
  dtype: string;
  elements: number;
  archive: NativePthArchive;
}

/** A storage reference: ("storage", storage class, key, location, numel). */
function persistentLoad(pid: unknown, archive: NativePthArchive): Storage {
  if (!Array.isArray(pid)) throw new Error("a persistent id that is not a tuple (garbled file)");
  const [tag, cls, key, , elements] = pid as [unknown, unknown, unknown, unknown, unknown];
  if (tag !== "storage") throw new Error(`unknown persistent id ${String(tag)}`);
  if (!isGlobal(cls)) throw new Error("a storage without a storage type (garbled file)");
  const type = STORAGES[cls.name];
  if (!type) throw new Error(`unsupported storage type ${cls.module}.${cls.name}`);
  if (!isIndex(elements)) throw new Error(`storage ${String(key)} has no valid size (${String(elements)}) (garbled file)`);
  return { key: String(key), dtype: type[0], elements, archive };
}

function call(fn: Global, args: unknown[], copies: CopyBudget): unknown {
  const qualified = `${fn.module}.${fn.name}`;
  switch (qualified) {
    case "torch._utils._rebuild_tensor_v2":
    case "torch._utils._rebuild_tensor":
      return rebuildTensor(args, copies);
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

const isStorage = (value: unknown): value is Storage =>
  typeof value === "object" && value !== null && typeof (value as Storage).archive === "object" && typeof (value as Storage).dtype === "string";

/**
 * A tensor over (storage, offset, shape, stride), checked against the bytes the file holds
 * before anything is copied: every element it addresses lies in its storage, and it has no
 * more elements than the storage (an expanded view, stride 0, would otherwise turn a few
 * stored bytes into gigabytes).
 */
function rebuildTensor(args: unknown[], copies: CopyBudget): StoredTensor {
  const [store, offset, shape, stride] = args;
  if (!isStorage(store)) throw new Error("a tensor without a storage (garbled file)");
  if (!isIndex(offset) || !isIndexList(shape) || !isIndexList(stride) || stride.length !== shape.length) {
    throw new Error(
      `a tensor of storage ${store.key} with an invalid layout (offset ${String(offset)}, shape ${String(shape)}, strides ${String(stride)}) (garbled file)`,
    );
  }
  const layout = `tensor of shape [${shape.join(", ")}] (strides [${stride.join(", ")}], offset ${offset})`;
  const held = store.elements;
  const numel = elementCount(shape);
  if (numel > 0) {
    const last = shape.reduce((end, size, d) => end + (size - 1) * stride[d]!, offset);
    if (last >= held)
      throw new Error(`a ${layout} needs elements ${offset} to ${last} of storage ${store.key}, which holds ${held} (truncated or garbled file)`);
    if (numel > held) {
      throw new Error(
        `a ${layout} has ${numel} elements but its storage ${store.key} holds ${held}: it repeats stored elements (an expanded or overlapping view). ` +
          "Save tensor.contiguous() instead",
      );
    }
  }
  return { kind: "tensor", dtype: store.dtype, shape, stride, offset, storage: store, copies };
}

export function isStoredTensor(value: unknown): value is StoredTensor {
  return typeof value === "object" && value !== null && (value as StoredTensor).kind === "tensor";
}

/**
 * A native tensor of a stored tensor, in its stored dtype (half precision stays half). The
 * layout was checked against the storage when the tensor was read; the storage's size in the
 * file is checked natively.
 */
export async function materialize(t: StoredTensor, where: string): Promise<Tensor> {
  const bytes = elementCount(t.shape) * BYTES_PER_ELEMENT[t.dtype]!;
  if (bytes > t.copies.bytesLeft) {
    throw new TorchLoadError(
      `${t.copies.path}: its tensors share stored data so much that copying them out would take over ${COPY_LIMIT} times the file's size ` +
        "(one tensor under many names, or many views of one storage); save each tensor once, with tensor.clone()",
    );
  }
  t.copies.bytesLeft -= bytes;
  try {
    return await t.storage.archive.tensor(t.storage.key, t.dtype, t.storage.elements, { offset: t.offset, shape: t.shape, stride: t.stride });
  } catch (err) {
    throw new TorchLoadError(`${(err as Error).message} (reading ${where})`);
  }
}
