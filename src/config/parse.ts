// Validates options against a zod schema and, when they are wrong, throws one error that
// names every bad field: its path, what was given and what is allowed.
import type { z } from "zod";

export class ConfigError extends Error {
  override name = "ConfigError";
}

function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
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

/** `schema.parse(input)`, with a ConfigError naming each bad field of `what` otherwise. */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join(".") : "(the options)";
    return `  ${path}: ${issue.message} (given: ${describeValue(valueAt(input, issue.path))})`;
  });
  throw new ConfigError(`invalid ${what}:\n${lines.join("\n")}`);
}
