// OpenBLAS picks its matrix kernels from the CPU model it recognises. Debian's OpenBLAS
// (0.3.21) does not know recent Xeons (e.g. model 207, Emerald Rapids) and falls back to its
// Prescott (SSE3) kernels, measured 3x slower on a training step than its SkylakeX ones on the
// same machine. OpenBLAS reads OPENBLAS_CORETYPE once, when the addon's libraries load: unless
// the user set it, it is set here from the instruction sets the CPU reports.
import { readFileSync } from "node:fs";

/** The OpenBLAS core type for a CPU with these /proc/cpuinfo flags, or undefined (leave OpenBLAS's choice). */
export function openBlasCoreTypeFor(flags: ReadonlySet<string>): string | undefined {
  if (flags.has("avx512f") && flags.has("avx512bw") && flags.has("avx512vl")) return "SKYLAKEX";
  if (flags.has("avx2") && flags.has("fma")) return "HASWELL";
  return undefined;
}

/** Sets OPENBLAS_CORETYPE for this process and its children before the addon loads, unless set. */
export function chooseOpenBlasKernels(env: NodeJS.ProcessEnv = process.env): void {
  if (env.OPENBLAS_CORETYPE !== undefined || process.platform !== "linux" || process.arch !== "x64") return;
  let cpuinfo: string;
  try {
    cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    return;
  }
  const line = /^flags\s*:(.*)$/m.exec(cpuinfo)?.[1] ?? "";
  const coreType = openBlasCoreTypeFor(new Set(line.trim().split(/\s+/)));
  if (coreType) env.OPENBLAS_CORETYPE = coreType;
}
