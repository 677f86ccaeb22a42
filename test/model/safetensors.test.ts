// The safetensors reader against a file laid out by hand from the format's definition.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { readSafetensors } from "../../src/index.js";

describe("safetensors", () => {
  it("reads F32, BF16, F16 and I64 tensors at their offsets", async () => {
    const header = JSON.stringify({
      __metadata__: { format: "pt" },
      f32: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      bf16: { dtype: "BF16", shape: [2], data_offsets: [8, 12] },
      f16: { dtype: "F16", shape: [1, 2], data_offsets: [12, 16] },
      i64: { dtype: "I64", shape: [1], data_offsets: [16, 24] },
    });
    const data = Buffer.alloc(24);
    data.writeFloatLE(1.5, 0);
    data.writeFloatLE(-3, 4);
    data.writeUInt16LE(0x3f80, 8); // bf16 1.0
    data.writeUInt16LE(0xc000, 10); // bf16 -2.0
    data.writeUInt16LE(0x3800, 12); // f16 0.5
    data.writeUInt16LE(0xc500, 14); // f16 -5.0
    data.writeBigInt64LE(-7n, 16);
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    const path = join(mkdtempSync(join(tmpdir(), "sere-st-")), "hand.safetensors");
    writeFileSync(path, Buffer.concat([length, Buffer.from(header), data]));

    const entries = new Map(await readSafetensors(path));
    expect([...entries.keys()]).toEqual(["f32", "bf16", "f16", "i64"]);
    expect(Array.from(entries.get("f32")!.toArray() as Float32Array)).toEqual([1.5, -3]);
    expect(Array.from(entries.get("bf16")!.toArray() as Float32Array)).toEqual([1, -2]);
    expect(entries.get("f16")!.shape()).toEqual([1, 2]);
    expect(Array.from(entries.get("f16")!.toArray() as Float32Array)).toEqual([0.5, -5]);
    expect(entries.get("i64")!.dtype()).toBe("int64");
    expect(Array.from(entries.get("i64")!.toArray() as BigInt64Array)).toEqual([-7n]);
  });
});
