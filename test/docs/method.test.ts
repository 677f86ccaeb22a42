// docs/method.md is where the code's comments point for the method: every anchor they cite
// must exist, and every file and function its mapping table names must exist too.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const METHOD = join(ROOT, "docs", "method.md");
const CITING = ["src", "native", "test", "bench", "scripts", "README.md"];
const SOURCE = /\.(ts|cc|h|py|sh|js|md)$/;

/** GitHub's heading anchors: lowercase, punctuation dropped (but '-' and '_'), spaces to '-', repeats numbered. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const heading = !fenced && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = heading[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
      .replace(/ /g, "-");
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** The source and documentation files at or under `path`. */
function sourceFiles(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return SOURCE.test(path) ? [path] : [];
  return readdirSync(path, { withFileTypes: true })
    .filter((e) => e.name !== "node_modules" && !e.name.startsWith("."))
    .flatMap((e) => sourceFiles(join(path, e.name)));
}

/** Citations of anchors of docs/method.md in a text, with their line numbers. */
function citedAnchors(text: string): Array<{ anchor: string; line: number }> {
  const out: Array<{ anchor: string; line: number }> = [];
  text.split("\n").forEach((line, i) => {
    for (const m of line.matchAll(/method\.md#([\w-]+)/g)) out.push({ anchor: m[1]!, line: i + 1 });
  });
  return out;
}

/** Rows of the mapping table: each file with the functions named for it. */
function mappingRows(markdown: string): Array<{ file: string; names: string[] }> {
  const section = markdown.split(/^## /m).find((s) => s.startsWith("Where each part is computed"));
  if (!section) throw new Error('docs/method.md has no section "Where each part is computed"');
  return section
    .split("\n")
    .filter((line) => line.startsWith("|") && !/^\|[\s|-]+\|?$/.test(line))
    .map((line) =>
      line
        .split("|")
        .slice(1, -1)
        .map((cell) => cell.trim()),
    )
    .filter((cells) => cells[1]?.startsWith("`"))
    .map((cells) => ({
      file: cells[1]!.replace(/`/g, ""),
      names: [...cells[2]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!),
    }));
}

/** Whether `text` holds `name` as a whole identifier (`Class::method` included). */
function holdsName(text: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[^\\w:])${escaped}(?![\\w])`).test(text);
}

describe("docs/method.md", () => {
  const markdown = readFileSync(METHOD, "utf8");
  const anchors = headingAnchors(markdown);

  it("computes anchors as GitHub does", () => {
    const sample = headingAnchors(
      "# The SERE method, as sere-torch computes it\n## Cross-entropy, centring and sharpening\n## Weighted k-NN\n## Notes\n## Notes\n```\n# not a heading\n```",
    );
    expect([...sample]).toEqual([
      "the-sere-method-as-sere-torch-computes-it",
      "cross-entropy-centring-and-sharpening",
      "weighted-k-nn",
      "notes",
      "notes-1",
    ]);
  });

  it("has every anchor that a comment, test or the README cites", () => {
    const files = CITING.flatMap((p) => sourceFiles(join(ROOT, p)));
    const citations = files.flatMap((file) => citedAnchors(readFileSync(file, "utf8")).map((c) => ({ ...c, file: relative(ROOT, file) })));
    expect(citations.length).toBeGreaterThan(30);
    const broken = citations.filter((c) => !anchors.has(c.anchor)).map((c) => `${c.file}:${c.line}: #${c.anchor}`);
    expect(broken).toEqual([]);
  });

  it("links only to its own headings", () => {
    const links = [...markdown.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(50);
    expect(links.filter((a) => !anchors.has(a))).toEqual([]);
  });

  it("maps each equation and step to a file that holds the function named", () => {
    const rows = mappingRows(markdown);
    expect(rows.length).toBeGreaterThan(40);
    const missing: string[] = [];
    for (const { file, names } of rows) {
      const path = join(ROOT, file);
      if (!existsSync(path)) {
        missing.push(`${file}: no such file`);
        continue;
      }
      const text = readFileSync(path, "utf8");
      if (names.length === 0) missing.push(`${file}: no function named`);
      for (const name of names) if (!holdsName(text, name)) missing.push(`${file}: no ${name}`);
    }
    expect(missing).toEqual([]);
  });

  it("is what the code cites for the method: no comment points at the spec outside the repository", () => {
    // This file names the patterns it looks for.
    const files = CITING.filter((p) => p !== "README.md")
      .flatMap((p) => sourceFiles(join(ROOT, p)))
      .filter((file) => file !== import.meta.filename);
    const outside = files.flatMap((file) =>
      readFileSync(file, "utf8")
        .split("\n")
        .flatMap((line, i) =>
          /\bspec\s+(sections?\s+)?\d|spec section|sere-method/i.test(line) ? [`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`] : [],
        ),
    );
    expect(outside).toEqual([]);
  });
});
