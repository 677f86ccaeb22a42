// Validates options against a zod schema and, when they are wrong, throws one error that
// names every bad field: its path, what was given and what is allowed.
import type { z } from "zod";

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

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) value = value !== null && typeof value === "object" ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  return value;
}

/** A field's name as a flag writes it: batchSizePerGpu and batch_size_per_gpu are batch-size-per-gpu. */
export const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace(/_/g, "-");

/**
 * Up to four of `known` whose names are close to `given`: first those where one holds the
 * other (case and separators aside: patchsize holds patchSize), then those that start with
 * the same word.
 */
export function closeNames(given: string, known: readonly string[]): string[] {
  const g = kebab(given);
  const flat = (n: string) => n.replace(/-/g, "");
  const names = known.map((k) => [k, kebab(k)] as const);
  const holding = names.filter(([, n]) => flat(n).includes(flat(g)) || flat(g).includes(flat(n)));
  const sameStart = names.filter(([, n]) => !holding.some(([, h]) => h === n) && n.split("-")[0] === g.split("-")[0]);
  return [...holding, ...sameStart].slice(0, 4).map(([k]) => k);
}

/** Top-level fields of `input` that `schema` (an object schema) has no place for, each with what it may have meant. */
function unknownFields(schema: z.ZodType, input: unknown): string[] {
  // an object schema, or one whose output is transformed (a pipe from the object schema)
  const object = schema as { shape?: Record<string, unknown>; in?: { shape?: Record<string, unknown> } };
  const shape = object.shape ?? object.in?.shape;
  if (!shape || input === null || typeof input !== "object") return [];
  const known = Object.keys(shape);
  return Object.keys(input)
    .filter((key) => !(key in shape))
    .map((key) => {
      const close = closeNames(key, known);
      return `  ${key}: no such field${close.length > 0 ? `; did you mean ${close.join(", ")}?` : ""} (given: ${describeValue((input as Record<string, unknown>)[key])})`;
    });
}

/**
 * The options `input` as `schema` validates them; else one ConfigError naming every bad field.
 * With `knownFieldsOnly` (what a person writes: a config file, a run's options), a field the
 * schema does not know is an error too, where it would otherwise be dropped: a misspelt name
 * must not leave a run on the default the user meant to change.
 */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, what: string, how: { knownFieldsOnly?: boolean } = {}): z.output<S> {
  const result = schema.safeParse(input);
  const unknown = how.knownFieldsOnly ? unknownFields(schema, input) : [];
  if (result.success && unknown.length === 0) return result.data;
  const lines = (result.success ? [] : result.error.issues).map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join(".") : "(the options)";
    const given = valueAt(input, issue.path);
    return `  ${path}: ${issue.message} (${given === undefined ? "not given" : `given: ${describeValue(given)}`})`;
  });
  throw new ConfigError(`invalid ${what}:\n${[...unknown, ...lines].join("\n")}`);
}
