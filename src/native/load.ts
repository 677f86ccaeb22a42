// Finds and loads the compiled addon; when it is missing or unusable, says how to rebuild.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { chooseNativeLibrarySettings } from "./cpu.js";
import type { NativeAddon } from "./surface.js";

/** The package root: two levels above src/native/ and dist/native/. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export class NativeAddonError extends Error {
  override name = "NativeAddonError";
}

const REBUILD = `Rebuild it with \`npm run build:native\` in ${packageRoot} (LibTorch set-up: see README.md).`;

/** Turns a failed load of `path` into a message that names the cause and the fix. */
export function explainLoadFailure(path: string, cause: string): string {
  let what: string;
  if (/NODE_MODULE_VERSION|N-API|Node-API|napi/i.test(cause)) {
    what = "it was built for another version of Node.js";
  } else if (/lib(torch|c10|torch_cpu|torch_cuda|gloo)\S*: cannot open shared object file/.test(cause)) {
    what = "the LibTorch it was built against cannot be found any more";
  } else if (/undefined symbol/.test(cause)) {
    what = "it was built against another LibTorch than the one it now finds";
  } else if (/invalid ELF header|file too short|wrong ELF class|not a valid/i.test(cause)) {
    what = "the file is not an addon built for this machine";
  } else {
    what = "it could not be loaded";
  }
  return `sere-torch's native addon at ${path} is unusable: ${what}.\n${REBUILD}\nCause: ${cause}`;
}

/** Why there is no addon at `path`: the package's own is not built, or SERE_TORCH_ADDON (`named`) points at nothing. */
export function describeMissingAddon(path: string, named: boolean): string {
  if (named) return `SERE_TORCH_ADDON names ${path}, which does not exist: point it at a built sere_torch.node, or unset it to use the package's own`;
  return `sere-torch's native addon is not built: there is no ${path}.\n${REBUILD}`;
}

function addonPath(): string {
  return process.env.SERE_TORCH_ADDON ?? join(packageRoot, "build", "Release", "sere_torch.node");
}

let addon: NativeAddon | undefined;

/** The addon, loaded on first use. Throws NativeAddonError with the fix when it cannot be. */
export function native(): NativeAddon {
  if (addon) return addon;
  const path = addonPath();
  if (!existsSync(path)) throw new NativeAddonError(describeMissingAddon(path, process.env.SERE_TORCH_ADDON !== undefined));
  chooseNativeLibrarySettings();
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (err) {
    throw new NativeAddonError(explainLoadFailure(path, (err as Error).message));
  }
  makeDisposable(addon);
  return addon;
}

/** The addon's classes whose objects hold native memory until dispose(). */
const DISPOSABLE_CLASSES = ["Tensor", "Model", "SereStep", "SereObjective", "Communicator"] as const;

/** `using t = tensor(...)` disposes the native object at the end of the scope. */
function makeDisposable(loaded: NativeAddon): void {
  for (const name of DISPOSABLE_CLASSES) {
    const prototype = (loaded[name] as { prototype: { dispose(): void } & Partial<Disposable> }).prototype;
    prototype[Symbol.dispose] ??= function (this: { dispose(): void }) {
      this.dispose();
    };
  }
}
