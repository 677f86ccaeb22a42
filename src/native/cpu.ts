// What the CPU offers, from /proc/cpuinfo: the OpenBLAS kernels to use, and whether bfloat16
// arithmetic is native.
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
 * Whether the CPU computes in bfloat16 natively (AVX-512 BF16 or AMX). Without it LibTorch
 * emulates bfloat16 and a training step was measured 1.7x slower than in float32.
 */
export function hasNativeBfloat16(flags: ReadonlySet<string> = cpuFlags()): boolean {
  return flags.has("avx512_bf16") || flags.has("amx_bf16");
}
