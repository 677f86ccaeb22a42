// Continued pretraining (--pretrained-weights): student and teacher start from the weights
// of a DINO, iBOT or SERE checkpoint or of an exported backbone (.pth or .safetensors, the
// reference's names). What the file lacks (the heads, for a backbone) keeps its initial
// value, the same in both networks, as at any start.
import { readStateDict, toModelNames } from "../model/weights.js";
import type { NativeEntries, NativeSereStep } from "../native/surface.js";

export interface PretrainedStart {
  /** The checkpoint's network the weights came from: "teacher", "student", or "" for a plain state dict. */
  key: string;
  /** The networks' names given by the file. */
  used: string[];
  /** The networks' names the file does not give: they keep their initial values. */
  missing: string[];
  /** The file's names neither network has: ignored. */
  unexpected: string[];
}

const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Loads the weights in `path` into `step`'s student and teacher before its first step. */
export async function startFromPretrained(step: NativeSereStep, path: string): Promise<PretrainedStart> {
  // A checkpoint's teacher, as DINO's evaluation takes, else its student.
  const { key, entries: stored } = await readStateDict(path, ["teacher", "student"]);
  const student = await step.state("student");
  const teacher = await step.state("teacher");
  try {
    const given = new Map(toModelNames(stored).entries);
    const ours = new Map([...teacher, ...student]);
    const wrongShape = [...given].filter(([name, t]) => ours.has(name) && !sameShape(t.shape(), ours.get(name)!.shape()));
    if (wrongShape.length > 0) {
      const listed = wrongShape.map(([name, t]) => `${name} (file [${t.shape().join(", ")}], model [${ours.get(name)!.shape().join(", ")}])`);
      throw new Error(
        `--pretrained-weights ${path}: ${wrongShape.length === 1 ? "1 tensor does" : `${wrongShape.length} tensors do`} not fit the model: ${listOf(listed)}; ` +
          "give the architecture they were trained with (--arch, --patch-size, --global-crops-size; for custom --embed-dim, --depth, --num-heads)",
      );
    }
    const used = [...ours.keys()].filter((name) => given.has(name));
    if (used.length === 0) {
      throw new Error(
        `--pretrained-weights ${path}: none of its ${stored.length} tensors has a name of the model's (it has ${listOf(stored.map(([name]) => name))}); it needs the reference's names`,
      );
    }
    const merge = (network: NativeEntries): NativeEntries => network.map(([name, t]) => [name, given.get(name) ?? t]);
    await step.loadNetworks(merge(student), merge(teacher));
    // A shared head's last_layer2 is last_layer: given when last_layer is.
    const aliased = (name: string) => name.startsWith("head.last_layer2.") && given.has(name.replace("last_layer2", "last_layer"));
    return {
      key,
      used,
      missing: [...ours.keys()].filter((name) => !given.has(name) && !aliased(name)),
      unexpected: [...given.keys()].filter((name) => !ours.has(name)),
    };
  } finally {
    for (const [, t] of [...stored, ...student, ...teacher]) t.dispose();
  }
}

/** One line on a start from pretrained weights: what was taken, what was not. */
export function describePretrainedStart(path: string, start: PretrainedStart): string {
  const from = start.key ? `the ${start.key} of ${path}` : path;
  const parts = [`started student and teacher from ${from}: ${start.used.length} tensors`];
  if (start.missing.length > 0) parts.push(`${start.missing.length} not in the file keep their initial values: ${listOf(start.missing)}`);
  if (start.unexpected.length > 0)
    parts.push(`${start.unexpected.length} in the file are not the model's and are ignored: ${listOf(start.unexpected)}`);
  return parts.join("; ");
}

/** Names, the first few of them when there are many. */
function listOf(names: string[], shown = 6): string {
  return names.length <= shown ? names.join(", ") : `${names.slice(0, shown).join(", ")} and ${names.length - shown} more`;
}
