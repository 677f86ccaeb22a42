// One atomic writer for every file, from TypeScript (weights, features) and C++ (checkpoints).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { copyFileAtomically, writeFileAtomically } from "../../src/io/atomic.js";
import { writeWeights } from "../../src/model/weights.js";
import { type Tensor, tensor } from "../../src/tensor.js";

const folder = () => mkdtempSync(join(tmpdir(), "sere-atomic-"));

describe("writeFileAtomically", () => {
  it("writes the pieces in order, views into larger buffers included, and leaves no .partial", async () => {
    const dir = folder();
    const big = Buffer.from("xxhello, world!yy");
    await writeFileAtomically(join(dir, "out.bin"), [big.subarray(2, 8), new Uint8Array(0), Buffer.from("world!")]);
    await writeFileAtomically(join(dir, "one.bin"), Uint8Array.of(1, 2, 3));
    expect(readFileSync(join(dir, "out.bin"), "utf8")).toBe("hello,world!");
    expect([...readFileSync(join(dir, "one.bin"))]).toEqual([1, 2, 3]);
    expect(readdirSync(dir).sort()).toEqual(["one.bin", "out.bin"]);
  });

  it("a failed write names the file, removes its .partial and keeps what was there", async () => {
    const dir = folder();
    mkdirSync(join(dir, "taken"));
    writeFileSync(join(dir, "taken", "inside"), "kept");
    await expect(writeFileAtomically(join(dir, "taken"), [Buffer.from("new")])).rejects.toThrow(
      /cannot rename .*taken\.partial to .*taken: Is a directory/,
    );
    expect(readdirSync(dir)).toEqual(["taken"]);
    expect(readFileSync(join(dir, "taken", "inside"), "utf8")).toBe("kept");
  });

  it("copyFileAtomically keeps the file as it was, through a .partial, when the original is rewritten later", async () => {
    const dir = folder();
    await writeFileAtomically(join(dir, "checkpoint.pth"), [Buffer.from("epoch 40")]);
    writeFileSync(join(dir, "checkpoint0040.pth.partial"), "torn by a kill");
    copyFileAtomically(join(dir, "checkpoint.pth"), join(dir, "checkpoint0040.pth"));
    await writeFileAtomically(join(dir, "checkpoint.pth"), [Buffer.from("epoch 41")]);
    expect(readFileSync(join(dir, "checkpoint0040.pth"), "utf8")).toBe("epoch 40");
    expect(readFileSync(join(dir, "checkpoint.pth"), "utf8")).toBe("epoch 41");
    expect(readdirSync(dir).sort()).toEqual(["checkpoint.pth", "checkpoint0040.pth"]);
  });

  it("TypeScript's writers and the native ones (.pth, checkpoints) are the same writer", async () => {
    const missing = join(folder(), "no-such-folder");
    const entries: Array<[string, Tensor]> = [["w", tensor(Float32Array.of(1), [1])]];
    const message = /cannot write .*no-such-folder\/x\.\w+\.partial: No such file or directory; check that the folder exists and is writable/;
    await expect(writeWeights(join(missing, "x.safetensors"), entries)).rejects.toThrow(message);
    await expect(writeWeights(join(missing, "x.pth"), entries)).rejects.toThrow(message);
    entries[0]![1].dispose();
  });
});
