// OpenBLAS's kernels: chosen from the CPU's instruction sets when OpenBLAS would not know the
// CPU (Debian's 0.3.21 falls back to SSE3 kernels on recent Xeons), the user's choice kept.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

import { info } from "../../src/index.js";
import { chooseOpenMpSpinning, cpuFlags, hasNativeBfloat16, openBlasCoreTypeFor } from "../../src/native/cpu.js";

const CORE_NAMES: Record<string, string> = { SKYLAKEX: "SkylakeX", HASWELL: "Haswell" };

describe("OpenBLAS kernels", () => {
  it("follow the instruction sets: AVX-512 -> SkylakeX, AVX2 + FMA -> Haswell, older: OpenBLAS's own choice", () => {
    expect(openBlasCoreTypeFor(new Set(["avx2", "fma", "avx512f", "avx512bw", "avx512vl"]))).toBe("SKYLAKEX");
    expect(openBlasCoreTypeFor(new Set(["avx2", "fma", "avx512f"]))).toBe("HASWELL"); // AVX-512 without BW/VL
    expect(openBlasCoreTypeFor(new Set(["avx2", "fma"]))).toBe("HASWELL");
    expect(openBlasCoreTypeFor(new Set(["sse2", "sse4_2", "avx"]))).toBeUndefined();
  });

  it("are the ones for this CPU once the addon is loaded", () => {
    const expected = openBlasCoreTypeFor(cpuFlags());
    const { blasCore } = info();
    expect(blasCore).not.toBeNull(); // Debian's LibTorch runs on OpenBLAS
    // On AMD CPUs with AVX-512 (Zen 4) Debian's OpenBLAS 0.3.21 keeps its Haswell kernels even when
    // asked for SkylakeX: the best it offers there, and still not its generic fallback.
    const amd = /^vendor_id\s*:\s*AuthenticAMD$/m.test(readFileSync("/proc/cpuinfo", "utf8"));
    if (expected === "SKYLAKEX" && amd) expect([CORE_NAMES.SKYLAKEX, CORE_NAMES.HASWELL]).toContain(blasCore);
    else if (expected) expect(blasCore).toBe(CORE_NAMES[expected]);
  });

  it("bfloat16 counts as native with AVX-512 BF16 or AMX only", () => {
    expect(hasNativeBfloat16(new Set(["avx512f", "avx512_bf16"]))).toBe(true);
    expect(hasNativeBfloat16(new Set(["amx_tile", "amx_bf16"]))).toBe(true);
    expect(hasNativeBfloat16(new Set(["avx512f", "avx512bw", "avx512_vnni"]))).toBe(false);
  });

  it("OpenMP spins 5,000 times before sleeping unless the user set GOMP_SPINCOUNT or OMP_WAIT_POLICY", () => {
    const env = (given: NodeJS.ProcessEnv) => {
      const e = { ...given };
      chooseOpenMpSpinning(e);
      return e;
    };
    expect(env({}).GOMP_SPINCOUNT).toBe("5000");
    expect(env({ GOMP_SPINCOUNT: "300000" }).GOMP_SPINCOUNT).toBe("300000");
    expect(env({ OMP_WAIT_POLICY: "ACTIVE" }).GOMP_SPINCOUNT).toBeUndefined();
    const script = 'import { info } from "./src/index.ts"; info(); console.log(process.env.GOMP_SPINCOUNT);';
    const { GOMP_SPINCOUNT: _, OMP_WAIT_POLICY: __, ...unset } = process.env;
    expect(execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { env: unset, encoding: "utf8" }).trim()).toBe(
      "5000",
    );
  });

  it("keep OPENBLAS_CORETYPE when the user set it", () => {
    const script = 'import { info } from "./src/index.ts"; console.log(info().blasCore);';
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      env: { ...process.env, OPENBLAS_CORETYPE: "PRESCOTT" },
      encoding: "utf8",
    });
    expect(out.trim()).toBe("Prescott");
  });
});
