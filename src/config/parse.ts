// Validates options against a zod schema and, when they are wrong, throws one error that
// names every bad field: its path, what was given and what is allowed.
import { z } from "zod";

export class ConfigError extends Error {
  override name = "ConfigError";
}

function describeValue(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "number") return String(value); // JSON writes Infinity and NaN as null
  try {
    const text = JSON.stringify(value);
    return text.length > 60 ? `${text.slice(0, 57)}...` : text;
  } catch {
    return String(value);
  }
}

/** What kind of value `v` is, for a message: "null", "an array", "Float32Array", "string". */
export function describeKind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? (v.constructor?.name ?? "an object") : typeof v;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) value = value !== null && typeof value === "object" ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  return value;
}

/** A field's name as a flag writes it: batchSizePerGpu and batch_size_per_gpu are batch-size-per-gpu. */
export const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace(/_/g, "-");

/** Edits (insertions, deletions, substitutions, swaps of neighbours) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * Up to four of `known` whose names are close to `given`, closest first: those where one holds
 * the other (case and separators aside: patchsize holds patchSize; the shorter first), else
 * those a typo or two away (spilt, split); then those that start with the same word.
 */
export function closeNames(given: string, known: readonly string[]): string[] {
  const g = kebab(given);
  const flat = (n: string) => n.replace(/-/g, "");
  const names = known.map((k) => [k, kebab(k)] as const);
  const holding = names.filter(([, n]) => flat(n).includes(flat(g)) || flat(g).includes(flat(n))).sort(([, a], [, b]) => a.length - b.length);
  const typo = holding.length > 0 ? [] : names.filter(([, n]) => flat(g).length >= 4 && editDistance(flat(n), flat(g)) <= 2);
  const sameStart = names.filter(([, n]) => n.split("-")[0] === g.split("-")[0]);
  return [...new Set([...holding, ...typo, ...sameStart].map(([k]) => k))].slice(0, 4);
}

/** An option that must be an AbortSignal (Trainer's and Finetuner's `signal`). */
export const abortSignalSchema = z.custom<AbortSignal>((value) => value instanceof AbortSignal, "must be an AbortSignal");

/** How a message names a field: as code writes it (batchSizePerGpu, nbKnn.0), or as a flag (--batch-size-per-gpu, --nb-knn [0]). */
export type FieldNames = "fields" | "flags";

/**
 * How a caller sets `field` (to `value`, where given), as a message tells it: on the command line
 * `--resume`, `--max-steps 0`; from code `resume: true`, `maxSteps: 0`.
 */
export function settingName(field: string, names: FieldNames, value?: string | number | boolean): string {
  if (names === "flags") return value === undefined || value === true ? `--${kebab(field)}` : `--${kebab(field)} ${String(value)}`;
  return value === undefined ? field : `${field}: ${String(value)}`;
}

function fieldName(path: readonly PropertyKey[], names: FieldNames): string {
  if (path.length === 0) return "(the options)";
  if (names === "fields") return path.map(String).join(".");
  const [first, ...rest] = path.map(String);
  return `${settingName(first!, names)}${rest.length > 0 ? ` [${rest.join("][")}]` : ""}`;
}

/** Top-level fields of `input` that `schema` (an object schema) has no place for, each with what it may have meant. */
function unknownFields(schema: z.ZodType, input: unknown, names: FieldNames): string[] {
  // an object schema, or one whose output is transformed (a pipe from the object schema)
  const object = schema as { shape?: Record<string, unknown>; in?: { shape?: Record<string, unknown> } };
  const shape = object.shape ?? object.in?.shape;
  if (!shape || input === null || typeof input !== "object") return [];
  const known = Object.keys(shape);
  return Object.keys(input)
    .filter((key) => !(key in shape))
    .map((key) => {
      const close = closeNames(key, known).map((name) => fieldName([name], names));
      const given = describeValue((input as Record<string, unknown>)[key]);
      return `  ${fieldName([key], names)}: no such field${close.length > 0 ? `; did you mean ${close.join(", ")}?` : ""} (given: ${given})`;
    });
}

/**
 * The options `input` as `schema` validates them; else one ConfigError naming every bad field.
 * With `knownFieldsOnly` (what a person writes: a config file, a run's options), a field the
 * schema does not know is an error too, where it would otherwise be dropped: a misspelt name
 * must not leave a run on the default the user meant to change. `names` is how the message
 * names the fields: "flags" for what a command line gave (and a config file, whose fields may be
 * written as flags are).
 */
export function parseOptions<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
  how: { knownFieldsOnly?: boolean; names?: FieldNames } = {},
): z.output<S> {
  const names = how.names ?? "fields";
  const result = schema.safeParse(input);
  const unknown = how.knownFieldsOnly ? unknownFields(schema, input, names) : [];
  if (result.success && unknown.length === 0) return result.data;
  const lines = (result.success ? [] : result.error.issues).map((issue) => {
    const given = valueAt(input, issue.path);
    // a field left out that has no default: zod's "expected string, received undefined" says it less plainly
    if (given === undefined && issue.code === "invalid_type") return `  ${fieldName(issue.path, names)}: required, and not given`;
    return `  ${fieldName(issue.path, names)}: ${issue.message} (${given === undefined ? "not given" : `given: ${describeValue(given)}`})`;
  });
  throw new ConfigError(`invalid ${what}:\n${[...unknown, ...lines].join("\n")}`);
}
