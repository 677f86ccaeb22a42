// The suite's temporary folders (every os.tmpdir() of the tests, the processes they start
// included) go under one folder for the run, removed when the run ends: repeated runs would
// otherwise leave their checkpoints, run folders and datasets behind in /tmp.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), "sere-tests-"));
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
