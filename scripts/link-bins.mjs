// After `npm install` / `npm ci` in a clone: makes dist/cli's commands executable and links
// them into the clone's own node_modules/.bin, so that `npx sere-train` runs them from there
// instead of installing the folder into npx's cache (which a concurrent `npm ci` can leave
// broken). Installed as a dependency, the package has no node_modules of its own: nothing
// to link (npm links its bins for the project that depends on it).
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { bin } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

for (const target of Object.values(bin)) chmodSync(join(root, target), 0o755);

if (existsSync(join(root, "node_modules"))) {
  const binDir = join(root, "node_modules", ".bin");
  mkdirSync(binDir, { recursive: true });
  for (const [name, target] of Object.entries(bin)) {
    const link = join(binDir, name);
    rmSync(link, { force: true });
    symlinkSync(relative(binDir, join(root, target)), link);
  }
}
