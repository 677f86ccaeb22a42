// Validation of the objective's arguments, so that mistakes are reported in the
// caller's terms before they reach native code.
import { describeKind } from "../config/parse.js";
import type { Tensor } from "../tensor.js";

/** A dimension to check: a size, or a name that binds to the first size seen. */
export type Dim = number | string;

/** Binds named dimensions (B, K, ...) across several tensors and checks each shape. */
export class ShapeCheck {
  private readonly sizes = new Map<string, number>();

  constructor(private readonly where: string) {}

  /** Checks `t`'s shape against `dims`; returns it. `hint` tells how to fix a mismatch. */
  tensor(name: string, t: unknown, dims: readonly Dim[], hint = ""): number[] {
    if (!isTensor(t)) throw new TypeError(`${this.where}: ${name} must be a Tensor (see tensor()), got ${describeKind(t)}`);
    const shape = t.shape();
    const pattern = `(${dims.join(", ")})`;
    const fail = (why: string) =>
      new RangeError(`${this.where}: ${name} must have shape ${pattern}, got [${shape.join(", ")}]: ${why}${hint ? `. ${hint}` : ""}`);
    if (shape.length !== dims.length) throw fail(`${shape.length} dimensions instead of ${dims.length}`);
    dims.forEach((dim, i) => {
      const size = shape[i]!;
      if (typeof dim === "number") {
        if (size !== dim) throw fail(`dimension ${i} is ${size}, not ${dim}`);
        return;
      }
      const bound = this.sizes.get(dim);
      if (bound === undefined) this.sizes.set(dim, size);
      else if (bound !== size) throw fail(`dimension ${i} (${dim}) is ${size} but ${dim} = ${bound} elsewhere`);
    });
    return shape;
  }

  /** The size a name was bound to. */
  size(dim: string): number {
    const size = this.sizes.get(dim);
    if (size === undefined) throw new Error(`${this.where}: ${dim} was never bound`);
    return size;
  }

  bind(dim: string, size: number): void {
    this.sizes.set(dim, size);
  }

  floating(name: string, t: Tensor): void {
    if (!["float32", "float64", "float16", "bfloat16"].includes(t.dtype())) {
      throw new TypeError(`${this.where}: ${name} must hold floating-point values, got ${t.dtype()}; build it from a Float32Array`);
    }
  }
}

export function isTensor(t: unknown): t is Tensor {
  return typeof t === "object" && t !== null && typeof (t as Tensor).shape === "function" && typeof (t as Tensor).dtype === "function";
}

/** A finite number > 0 (temperatures, scales). */
export function positive(where: string, name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${where}: ${name} must be a finite number > 0, got ${String(value)}`);
  }
  return value;
}

/** An integer >= min (grid sides, head counts). */
export function integer(where: string, name: string, value: unknown, min: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new RangeError(`${where}: ${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}
