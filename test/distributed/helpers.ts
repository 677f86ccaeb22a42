// Running a few ranks on this machine (Gloo over loopback) and the data they share.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";

import { Random } from "../../src/data/random.js";

/** A TCP port that was free a moment ago, for MASTER_PORT. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RankRun {
  child: ChildProcess;
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Starts `script` (TypeScript, through tsx) as `worldSize` ranks with torchrun's variables. */
export async function startRanks(script: string, worldSize: number, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RankRun[]> {
  const port = await freePort();
  return Array.from({ length: worldSize }, (_, rank) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
      env: {
        ...process.env,
        RANK: String(rank),
        LOCAL_RANK: String(rank),
        WORLD_SIZE: String(worldSize),
        MASTER_ADDR: "127.0.0.1",
        MASTER_PORT: String(port),
        OMP_NUM_THREADS: "1",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      child.on("exit", (code) => resolve({ code, stdout, stderr })),
    );
    return { child, exited };
  });
}

/** A seeded (4, 3, 2, 2) batch for the SyncBatchNorm check, with affine parameters and an output gradient. */
export function batchNormCase() {
  const random = Random.seeded(7);
  const shape = [4, 3, 2, 2];
  const size = shape.reduce((a, b) => a * b, 1);
  const draw = (n: number, scale: number, offset = 0) => Float32Array.from({ length: n }, () => offset + scale * (random.next() * 2 - 1));
  return {
    shape,
    perImage: size / shape[0]!,
    input: draw(size, 3, 1),
    weight: draw(3, 0.5, 1),
    bias: draw(3, 0.5),
    gradOutput: draw(size, 1),
  };
}

import type { NativeStepBatch } from "../../src/native/surface.js";
import { tensor } from "../../src/tensor.js";

export { tinySchedule, tinyStepOptions, withConvStem } from "../train/helpers.js";

const LOCALS = 2;

/**
 * Step `index`'s batch of `images` images (two 16 px globals, two 8 px locals each), or the
 * share of rank `rank` of `worldSize`: images [rank * images / worldSize, ...) of every view.
 */
export function tinyBatch(images: number, index: number, rank = 0, worldSize = 1): NativeStepBatch {
  const random = Random.seeded(100 + index);
  const mine = images / worldSize;
  const rowsOf = (views: number, perRow: number, draw: () => number) => {
    const all = Array.from({ length: views * images * perRow }, draw);
    const out: number[] = [];
    for (let v = 0; v < views; v++) out.push(...all.slice((v * images + rank * mine) * perRow, (v * images + (rank + 1) * mine) * perRow));
    return out;
  };
  const pixels = (views: number, size: number) =>
    tensor(Float32Array.from(rowsOf(views, 3 * size * size, () => random.next() * 2 - 1)), [views * mine, 3, size, size]);
  const records = (views: number, side: number) =>
    tensor(
      Float32Array.from(
        rowsOf(
          views,
          5,
          (() => {
            let column = 0;
            return () => {
              const c = column++ % 5;
              return c === 4 ? Math.round(random.next()) : c < 2 ? random.next() * (100 - side) : side * (0.8 + 0.2 * random.next());
            };
          })(),
        ),
      ),
      [views * mine, 5],
    );
  return {
    globalViews: pixels(2, 16),
    localViews: pixels(LOCALS, 8),
    masks: tensor(Uint8Array.from(rowsOf(2, 16, () => (random.next() < 0.3 ? 1 : 0))), [2 * mine, 4, 4]),
    globalRecords: records(2, 70),
    localRecords: records(LOCALS, 30),
  };
}
