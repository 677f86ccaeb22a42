// `--version`: the package's version, from its package.json (beside src/ and dist/).
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { packageRoot } from "../native/load.js";

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { version: string }).version;
}
