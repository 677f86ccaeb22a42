// The safetensors reader against a file laid out by hand from the format's definition.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";

import { Model, readSafetensors, tensor, writeSafetensors } from "../../src/index.js";

describe("safetensors", () => {
  it("reads F32, BF16, F16 and I64 tensors at their offsets, each in its own dtype", async () => {
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
    expect([...entries.values()].map((t) => t.dtype())).toEqual(["float32", "bfloat16", "float16", "int64"]);
    // written back as they were read: half precision stays two bytes an element
    const again = join(dirname(path), "again.safetensors");
    await writeSafetensors(again, [...entries]);
    const back = await readSafetensors(again);
    expect(back.map(([, t]) => t.dtype())).toEqual(["float32", "bfloat16", "float16", "int64"]);
    expect(Buffer.concat(back.map(([, t]) => t.bytes()))).toEqual(data);
  });

  it.each([
    ["bfloat16", "BF16", (bits: number) => bits >>> 16],
    ["float16", "F16", undefined],
  ] as const)("writes %s weights as they are held (%s, two bytes an element)", async (dtype, code, fromFloatBits) => {
    const model = Model.create({ arch: "custom", embedDim: 8, depth: 1, numHeads: 2, patchSize: 4, imgSize: 8, head: false, dtype });
    const path = join(mkdtempSync(join(tmpdir(), "sere-st-half-")), "model.safetensors");
    await model.save(path);
    const file = readFileSync(path);
    const headerLength = Number(file.readBigUInt64LE(0));
    const header = JSON.parse(file.subarray(8, 8 + headerLength).toString("utf8")) as Record<
      string,
      { dtype: string; shape: number[]; data_offsets: [number, number] }
    >;
    const state = new Map(model.state());
    const name = Object.keys(header).find((key) => key.endsWith("blocks.0.mlp.fc1.weight"))!;
    const weight = header[name]!;
    expect(weight.dtype).toBe(code);
    expect(weight.data_offsets[1] - weight.data_offsets[0]).toBe(2 * 32 * 8);
    // The values read back are the model's; bfloat16's bits are float32's upper half.
    const written = new Map(await readSafetensors(path));
    const held = state.get("backbone.blocks.0.mlp.fc1.weight")!.toArray() as Float32Array;
    expect(Array.from(written.get(name)!.toArray() as Float32Array)).toEqual(Array.from(held));
    if (fromFloatBits) {
      const data = file.subarray(8 + headerLength + weight.data_offsets[0]);
      const floatBits = new Uint32Array(held.buffer, held.byteOffset, held.length);
      expect(Array.from({ length: held.length }, (_, i) => data.readUInt16LE(2 * i))).toEqual(Array.from(floatBits, fromFloatBits));
    }
    for (const t of written.values()) t.dispose();
    model.dispose();
  });

  it("refuses a name given twice, an empty one or __metadata__ before writing anything", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-st-names-"));
    const t = tensor(new Float32Array([1, 2]), [2]);
    const cases: Array<[Array<[string, typeof t]>, string]> = [
      [
        [
          ["a", t],
          ["b", t],
          ["a", t],
        ],
        'two tensors are named "a"; give every tensor a name of its own',
      ],
      [[["", t]], 'tensor 0 is named ""; give every tensor a name of its own'],
      [
        [
          ["a", t],
          ["__metadata__", t],
        ],
        'tensor 1 is named "__metadata__"',
      ],
    ];
    for (const [i, [entries, problem]] of cases.entries()) {
      const path = join(dir, `${i}.safetensors`);
      await expect(writeSafetensors(path, entries)).rejects.toThrow(`${path}: ${problem}`);
      expect(existsSync(path)).toBe(false);
    }
    // distinct names write a file that reads back whole
    const path = join(dir, "distinct.safetensors");
    await writeSafetensors(path, [
      ["a", t],
      ["b", t],
    ]);
    expect((await readSafetensors(path)).map(([name]) => name)).toEqual(["a", "b"]);
    t.dispose();
  });

  describe("broken files are refused naming the file and the problem", () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-st-bad-"));
    /** A file of this header (any JSON value) and `dataBytes` bytes of data. */
    const write = (name: string, header: unknown, dataBytes: number) => {
      const json = Buffer.from(JSON.stringify(header));
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(json.length));
      const path = join(dir, `${name}.safetensors`);
      writeFileSync(path, Buffer.concat([length, json, Buffer.alloc(dataBytes)]));
      return path;
    };
    const f32 = (shape: number[], offsets: [number, number]) => ({ dtype: "F32", shape, data_offsets: offsets });
    const cases: Array<[string, unknown, number, RegExp]> = [
      ["array", [f32([1], [0, 4])], 4, /the header is not a JSON object/],
      ["no-offsets", { a: { dtype: "F32", shape: [1] } }, 4, /tensor a has no valid data_offsets/],
      ["negative-shape", { a: f32([-1, 2], [0, 8]) }, 8, /tensor a has no valid shape/],
      ["no-dtype", { a: { shape: [1], data_offsets: [0, 4] } }, 4, /tensor a has no dtype/],
      ["unknown-dtype", { a: { dtype: "C64", shape: [1], data_offsets: [0, 8] } }, 8, /tensor a has dtype C64, which sere-torch cannot read/],
      ["outside", { a: f32([4], [0, 16]) }, 8, /the data of tensor a \(bytes 0 to 16\) lies outside the data section \(8 bytes\)/],
      ["wrong-size", { a: f32([3], [0, 8]) }, 8, /tensor a of shape \[3\] and dtype F32 needs 12 bytes; its data_offsets span 8/],
      ["overlap", { a: f32([2], [0, 8]), b: f32([2], [4, 12]) }, 12, /the data of tensor b overlaps that of tensor a/],
      ["gap", { a: f32([1], [0, 4]), b: f32([1], [8, 12]) }, 12, /bytes 4 to 8 of the data section belong to no tensor/],
    ];
    for (const [name, header, dataBytes, problem] of cases) {
      it(name, async () => {
        const path = write(name, header, dataBytes);
        const error = await readSafetensors(path).then(
          () => undefined,
          (err: Error) => err.message,
        );
        expect(error).toContain(`${path} is not a valid safetensors file`);
        expect(error).toMatch(problem);
      });
    }
  });
});
