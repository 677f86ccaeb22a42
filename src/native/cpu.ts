// What the CPU offers, from /proc/cpuinfo: the OpenBLAS kernels to use, and whether bfloat16
// arithmetic is native; and how long OpenMP's threads wait for work before they sleep.
//
// OpenBLAS picks its matrix kernels from the CPU model it recognises. Debian's OpenBLAS
// (0.3.21) does not know recent Xeons (e.g. model 207, Emerald Rapids) and falls back to its
// Prescott (SSE3) kernels, measured 1.8x slower on a training step than its SkylakeX ones on the
// same machine. OpenBLAS reads OPENBLAS_CORETYPE once, when the addon's libraries load: unless
// the user set it, it is set here from the instruction sets the CPU reports.
import { readFileSync } from "node:fs";

/** The OpenBLAS core type for a CPU with these /proc/cpuinfo flags, or undefined (leave OpenBLAS's choice). */
export function openBlasCoreTypeFor(flags: ReadonlySet<string>): string | undefined {
  if (flags.has("avx512f") && flags.has("avx512bw") && flags.has("avx512vl")) return "SKYLAKEX";
  if (flags.has("avx2") && flags.has("fma")) return "HASWELL";
  return undefined;
}

/** The CPU's feature flags (Linux x86-64; empty elsewhere). */
export function cpuFlags(): ReadonlySet<string> {
  if (process.platform !== "linux" || process.arch !== "x64") return new Set();
  try {
    const line = /^flags\s*:(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "";
    return new Set(line.trim().split(/\s+/));
  } catch {
    return new Set();
  }
}

/** Sets OPENBLAS_CORETYPE for this process and its children before the addon loads, unless set. */
export function chooseOpenBlasKernels(env: NodeJS.ProcessEnv = process.env): void {
  if (env.OPENBLAS_CORETYPE !== undefined) return;
  const coreType = openBlasCoreTypeFor(cpuFlags());
  if (coreType) env.OPENBLAS_CORETYPE = coreType;
}

/**
 * OpenMP's threads spin this many times waiting for the next parallel op before they sleep
 * (libgomp's default: 300,000). Long spins serve an idle machine, but beside other work a spinning
 * thread holds a core the other team member needs: with one core busy elsewhere, default steps
 * on 2 threads took 0.58x the wall time with 5,000 spins; idle, 1.08x (README, Runtime).
 */
export const OPENMP_SPIN_COUNT = "5000";

/** Sets GOMP_SPINCOUNT before the addon loads, unless the user set it or OMP_WAIT_POLICY. */
export function chooseOpenMpSpinning(env: NodeJS.ProcessEnv = process.env): void {
  if (env.GOMP_SPINCOUNT !== undefined || env.OMP_WAIT_POLICY !== undefined) return;
  env.GOMP_SPINCOUNT = OPENMP_SPIN_COUNT;
}

/**
 * Whether the CPU computes in bfloat16 natively (AVX-512 BF16 or AMX). Without it LibTorch
 * emulates bfloat16 and a training step was measured 1.7x slower than in float32.
 */
export function hasNativeBfloat16(flags: ReadonlySet<string> = cpuFlags()): boolean {
  return flags.has("avx512_bf16") || flags.has("amx_bf16");
}

/** What the native libraries read from the environment once, as they load: set before the addon loads (and for child processes). */
export function chooseNativeLibrarySettings(env: NodeJS.ProcessEnv = process.env): void {
  chooseOpenBlasKernels(env);
  chooseOpenMpSpinning(env);
}
