// Data parallelism on this machine: step time of one process against two ranks (Gloo over
// loopback) sharing the same cores, so read the difference as overhead, not speed-up; the
// bytes all-reduced per step, and what that would cost on 8 GPUs (a paper estimate).
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";

import { freePort } from "../test/distributed/helpers.js";

const CASES = [
  { name: "vit_small/16 2x224+10x96 b8 per rank, bf16", preset: "vit-small-imagenet", batch: 8 },
  { name: "fashion-mnist-tiny b32 per rank, bf16", preset: "fashion-mnist-tiny", batch: 32 },
];

interface RankResult {
  secondsPerStep: number;
  gradientBytes: number;
  peakRssMiB: number;
}

async function runRanks(preset: string, batch: number, worldSize: number): Promise<RankResult[]> {
  const threads = Math.max(1, Math.floor(availableParallelism() / worldSize));
  const port = await freePort();
  const ranks = Array.from({ length: worldSize }, (_, rank) => {
    const env = worldSize > 1 ? { RANK: String(rank), WORLD_SIZE: String(worldSize), MASTER_ADDR: "127.0.0.1", MASTER_PORT: String(port) } : {};
    const child = spawn(process.execPath, ["--import", "tsx", "bench/distributed-rank.ts", preset, String(batch), String(threads)], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    return new Promise<RankResult>((resolve, reject) =>
      child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out) as RankResult) : reject(new Error(`rank ${rank} exited with ${code}`)))),
    );
  });
  return Promise.all(ranks);
}

/** Ring all-reduce: each GPU sends and receives 2 (N - 1) / N of the buffer. */
function ringSeconds(bytes: number, gpus: number, bytesPerSecond: number): number {
  return (2 * (gpus - 1) * bytes) / gpus / bytesPerSecond;
}

export async function run(): Promise<object> {
  const results: Record<string, object> = {};
  for (const c of CASES) {
    const [one] = await runRanks(c.preset, c.batch, 1);
    const two = await runRanks(c.preset, c.batch, 2);
    const bytes = one!.gradientBytes;
    results[c.name] = {
      oneProcess: { secondsPerStep: one!.secondsPerStep, imagesPerSecond: c.batch / one!.secondsPerStep, peakRssMiB: one!.peakRssMiB },
      twoRanks: {
        secondsPerStep: Math.max(...two.map((r) => r.secondsPerStep)),
        imagesPerSecond: (2 * c.batch) / Math.max(...two.map((r) => r.secondsPerStep)),
        peakRssMiBPerRank: Math.max(...two.map((r) => r.peakRssMiB)),
      },
      gradientBytesAllReducedPerStep: bytes,
      estimateOn8Gpus: {
        nvlinkSecondsAt400GBps: ringSeconds(bytes, 8, 400e9),
        networkSecondsAt100Gbps: ringSeconds(bytes, 8, 100e9 / 8),
      },
    };
  }
  return { cores: availableParallelism(), results };
}
