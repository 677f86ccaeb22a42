import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";

import { describeMissingAddon, explainLoadFailure } from "../../src/native/load.js";

describe("the addon loader", () => {
  afterEach(() => {
    delete process.env.SERE_TORCH_ADDON;
    vi.resetModules();
  });

  async function freshLoader() {
    vi.resetModules();
    return import("../../src/native/load.js");
  }

  it("says how to build the addon when it is missing, and names SERE_TORCH_ADDON when it points at nothing", async () => {
    const missing = join(tmpdir(), "no-such-dir", "sere_torch.node");
    expect(describeMissingAddon(missing, false)).toMatch(/native addon is not built: there is no .*no-such-dir.*\n.*npm run build:native/);
    process.env.SERE_TORCH_ADDON = missing;
    const { native } = await freshLoader();
    expect(() => native()).toThrow(
      `SERE_TORCH_ADDON names ${missing}, which does not exist: point it at a built sere_torch.node, or unset it to use the package's own`,
    );
  });

  it("says how to rebuild when the file is not a loadable addon", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "sere-bad-")), "sere_torch.node");
    writeFileSync(path, "not an ELF file");
    process.env.SERE_TORCH_ADDON = path;
    const { native, NativeAddonError } = await freshLoader();
    expect(() => native()).toThrow(NativeAddonError);
    expect(() => native()).toThrow(/is unusable: the file is not an addon built for this machine\.\nRebuild it with `npm run build:native`/);
  });

  it("names the cause for the failures of an addon built elsewhere", () => {
    expect(
      explainLoadFailure("x.node", "The module 'x.node' was compiled against a different Node.js version using NODE_MODULE_VERSION 108"),
    ).toContain("built for another version of Node.js");
    expect(explainLoadFailure("x.node", "libtorch_cpu.so: cannot open shared object file: No such file or directory")).toContain(
      "the LibTorch it was built against cannot be found any more",
    );
    expect(explainLoadFailure("x.node", "x.node: undefined symbol: _ZN3c105Error")).toContain("built against another LibTorch");
  });
});
