// Command-line flags from a zod object schema: `--batch-size-per-gpu 64` (or the reference's
// `--batch_size_per_gpu 64`) sets batchSizePerGpu. Types come from the schema (numbers,
// booleans, strings, enums, tuples of numbers given as several values); `--help` text is
// generated from it too, each field's line from its `.describe(...)`.
import type { z } from "zod";

import { ConfigError, closeNames, kebab } from "./parse.js";

type Shape = Record<string, z.ZodType>;

const camel = (kebabName: string) => kebabName.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

interface FieldInfo {
  kind: string; // "number" | "boolean" | "string" | "enum" | "tuple"
  length: number; // values a tuple takes
  options?: readonly string[];
  defaultValue?: unknown;
  description?: string;
}

function describe(field: z.ZodType): FieldInfo {
  let t = field as unknown as {
    def: { type: string; innerType?: unknown; defaultValue?: unknown; items?: unknown[]; entries?: Record<string, string> };
  };
  let defaultValue: unknown;
  const description = (field as { description?: string }).description;
  while (t.def.type === "default" || t.def.type === "optional") {
    if (t.def.type === "default") defaultValue = t.def.defaultValue;
    t = t.def.innerType as typeof t;
  }
  const kind = t.def.type;
  return {
    kind,
    length: kind === "tuple" ? (t.def.items?.length ?? 1) : kind === "array" ? Infinity : 1,
    options: kind === "enum" ? Object.values(t.def.entries ?? {}) : undefined,
    defaultValue,
    description,
  };
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function convert(name: string, info: FieldInfo, raw: string): unknown {
  switch (info.kind) {
    case "number": {
      // decimal numbers only: Number() would also take 0x10 for 16, and Infinity
      if (!DECIMAL.test(raw.trim())) throw new ConfigError(`--${kebab(name)}: expected a number, given "${raw}"`);
      return Number(raw);
    }
    case "boolean":
      if (["true", "on", "1"].includes(raw.toLowerCase())) return true;
      if (["false", "off", "0"].includes(raw.toLowerCase())) return false;
      throw new ConfigError(`--${kebab(name)}: expected true or false, given "${raw}"`);
    default:
      return raw; // strings and enums: the schema checks the value
  }
}

export interface ParsedFlags {
  /** Values for schema fields, camelCase. */
  values: Record<string, unknown>;
  /** Flags outside the schema that the caller declared (e.g. --preset, --config). */
  extra: Record<string, string | boolean>;
  help: boolean;
}

/**
 * Parses `argv` against the fields of `shape`. `extraFlags` names flags outside the
 * schema: a string value, or a boolean switch when listed in `switches`.
 */
export function parseFlags(argv: readonly string[], shape: Shape, extraFlags: readonly string[] = [], switches: readonly string[] = []): ParsedFlags {
  const out: ParsedFlags = { values: {}, extra: {}, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") {
      out.help = true;
      continue;
    }
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument "${arg}": flags look like --name value`);
    const [given, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const flag = given.replace(/_/g, "-"); // the reference's snake_case names
    const take = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith("--") && Number.isNaN(Number(next)))) throw new ConfigError(`--${flag} needs a value`);
      i++;
      return next;
    };
    if (switches.includes(flag)) {
      out.extra[camel(flag)] = inline === undefined ? true : inline !== "false";
      continue;
    }
    if (extraFlags.includes(flag)) {
      out.extra[camel(flag)] = take();
      continue;
    }
    const name = camel(flag);
    const field = shape[name];
    if (!field) {
      const close = closeNames(flag, Object.keys(shape)).map(kebab);
      throw new ConfigError(
        `unknown flag --${given}${close.length > 0 ? `; did you mean ${close.map((k) => `--${k}`).join(", ")}?` : "; see --help"}`,
      );
    }
    const info = describe(field);
    const asNumbers = (values: string[]) => values.map((v) => convert(name, { ...info, kind: "number" }, v));
    if (info.kind === "array") {
      // several numbers: --nb-knn 10 20 100, --nb-knn 10,20,100 or --nb-knn=10,20,100
      const values = inline !== undefined ? [inline] : [];
      while (inline === undefined && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith("--")) values.push(argv[++i]!);
      if (values.length === 0) throw new ConfigError(`--${flag} needs at least one value`);
      out.values[name] = asNumbers(values.flatMap((v) => v.split(",")));
    } else if (info.kind === "tuple") {
      // a fixed count: --global-crops-scale 0.4 1, 0.4,1 or =0.4,1 (a negative number is a value, not a flag)
      const values = inline !== undefined ? inline.split(",") : [];
      while (values.length < info.length) {
        const next = argv[i + 1];
        if (next === undefined || (next.startsWith("--") && Number.isNaN(Number(next)))) {
          throw new ConfigError(`--${flag} needs ${info.length} values, given ${values.length}`);
        }
        values.push(...argv[++i]!.split(","));
      }
      if (values.length > info.length) throw new ConfigError(`--${flag} needs ${info.length} values, given ${values.length}`);
      out.values[name] = asNumbers(values);
    } else if (info.kind === "boolean" && inline === undefined && (argv[i + 1] === undefined || argv[i + 1]!.startsWith("--"))) {
      out.values[name] = true; // a bare switch: --overwrite
    } else {
      out.values[name] = convert(name, info, take());
    }
  }
  return out;
}

/** How a value reads on the command line: 0.4 1 for a tuple, the text of a string. */
function flagValue(value: unknown): string {
  if (Array.isArray(value)) return value.join(" ");
  if (value === "") return '""';
  return String(value);
}

/**
 * `--help` text: every field as a flag with its type and description, and the value a run
 * takes: from `values` (a resolved configuration, e.g. the preset's) when given, else the
 * schema's default.
 */
export function flagsHelp(shape: Shape, values?: Record<string, unknown>): string {
  return Object.entries(shape)
    .map(([name, field]) => {
      const info = describe(field);
      const type =
        info.kind === "enum"
          ? info.options!.join("|")
          : info.kind === "tuple"
            ? Array(info.length).fill("N").join(" ")
            : info.kind === "array"
              ? "N [N ...]"
              : info.kind === "boolean"
                ? "true|false"
                : info.kind;
      const value = values ? values[name] : info.defaultValue;
      const fallback = value === undefined ? "" : ` (${values ? "" : "default "}${flagValue(value)})`;
      const text = info.description ? `\n      ${info.description}` : "";
      return `  --${kebab(name)} ${type}${fallback}${text}`;
    })
    .join("\n");
}
