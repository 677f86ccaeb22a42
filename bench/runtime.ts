// Runtime: BLAS throughput at 1 and all threads, and the cost of one async native call.
import { availableParallelism } from "node:os";

import { info, matmul, setThreads, tensor } from "../src/index.js";

async function matmulGflops(n: number, threads: number): Promise<number> {
  setThreads(threads);
  const a = tensor(new Float32Array(n * n).fill(0.5), [n, n]);
  (await matmul(a, a)).dispose(); // warm-up
  const rounds = 5;
  const started = performance.now();
  for (let i = 0; i < rounds; i++) (await matmul(a, a)).dispose();
  const seconds = (performance.now() - started) / 1000;
  a.dispose();
  return (rounds * 2 * n ** 3) / seconds / 1e9;
}

/** Round trip of a trivial native call through the worker pool and back to a Promise. */
async function asyncCallMicroseconds(): Promise<number> {
  const a = tensor(new Float32Array(4), [2, 2]);
  const rounds = 2000;
  const started = performance.now();
  for (let i = 0; i < rounds; i++) (await matmul(a, a)).dispose();
  a.dispose();
  return ((performance.now() - started) * 1000) / rounds;
}

export async function run(): Promise<object> {
  const cores = availableParallelism();
  const result = {
    machine: { cores, libtorch: info().libtorchVersion, cuda: info().cuda.available },
    matmul2048Gflops: {
      threads1: await matmulGflops(2048, 1),
      [`threads${cores}`]: await matmulGflops(2048, cores),
    },
    asyncCallMicroseconds: await asyncCallMicroseconds(),
  };
  setThreads(cores);
  return result;
}
