// Opens a dataset, recognising its format from the path:
// - a directory with <split>-images-idx3-ubyte[.gz]: IDX (MNIST, Fashion-MNIST);
// - a directory with data_batch_*.bin / test_batch.bin or train.bin / test.bin: CIFAR binary;
// - a .txt / .lst / .csv file: a text list of `path [label]` lines (paths relative to the list;
//   a first line `path,label` is a header; a header of more columns, `filename,label,split`, says
//   which are the path and the label, and a split column which rows are of which split);
// - an IDX images file itself;
// - any other directory: an image folder (jpg, png, webp, tiff, gif, avif, nested), labelled by its
//   top-level subfolders; `train` / `test` (or `val`) subfolders are the splits when present,
//   else the whole folder is the training split; a split folder may name its images' classes in
//   <split>_annotations.txt instead (Tiny ImageNet's val/). Symbolic links to images and folders are
//   followed, each real folder read once. Files of image formats that are not decoded (bmp,
//   ppm, heic, ...) are left out and named.
// A file holds one split; its test split is a sibling named with test / val / t10k for train.
// Data without a test split refuses to open one: evaluating on the training images would
// report an accuracy no model earned.
import { type Dirent, existsSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, extname, join, relative, resolve, sep } from "node:path";
import { z } from "zod";

import { parseOptions } from "../../config/parse.js";
import { requirePath, whyUnreadable } from "../../io/input-file.js";
import { IMAGE_EXTENSIONS, IMAGE_FORMATS, UNREAD_IMAGE_EXTENSIONS } from "../decode.js";
import { CifarDataset, cifarFiles } from "./cifar.js";
import { type Dataset, DatasetError, type Split } from "./dataset.js";
import { FileDataset } from "./files.js";
import { IdxDataset, idxImagesFile } from "./idx.js";

const openOptionsSchema = z.object({ split: z.enum(["train", "test"]).default("train") });
export interface OpenOptions {
  split?: Split;
}

const FORMATS_HELP =
  `sere-torch reads an image folder (class subfolders of ${IMAGE_FORMATS} files), IDX files (MNIST / Fashion-MNIST, ` +
  "e.g. /usr/share/datasets/fashion-mnist), CIFAR-10/100 binary batches, or a text list (.txt/.lst/.csv) of `path [label]` lines";

/** The subfolders an image folder's test split may have, in this order of preference. */
const TEST_FOLDERS = ["test", "val", "validation"];

const TEST_SPLIT_HELP =
  "evaluation needs test images that training does not see: give a folder with train/ and test/ (or val/, validation/) subfolders, " +
  "IDX t10k-* files beside the train-* ones, CIFAR's test_batch.bin (or test.bin), or a file named with `train` " +
  "(a text list or an IDX file) beside the same name with `test` (or `val`, `t10k`)";

/** For a file named with `train`, the first of its siblings named with test, val or t10k in its place. */
function testSibling(file: string): string | undefined {
  const name = basename(file);
  if (!/train/.test(name)) return undefined;
  return ["test", "val", "t10k"].map((s) => join(dirname(file), name.replace(/train/, s))).find((f) => existsSync(f));
}

/** The file of `split` for a file of one split: the file itself for training, its test sibling for test. */
function fileOfSplit(file: string, split: Split): string {
  if (split === "train") return file;
  const sibling = testSibling(file);
  if (!sibling) throw new DatasetError(`${file} holds one split and no test split sits beside it; ${TEST_SPLIT_HELP}`);
  return sibling;
}

/**
 * The dataset at `path`: the training split (the default), or the test split, which must be
 * other images than the training split's: where the data has none, a DatasetError says so.
 */
export function openDataset(path: string, options: OpenOptions = {}): Dataset {
  // checked: a misspelt option ({ spilt: "test" }) would otherwise open the training split
  const { split } = parseOptions(openOptionsSchema, options, "openDataset options", { knownFieldsOnly: true });
  const full = resolve(requirePath(path, "openDataset", "the data (a folder or file)"));
  if (full.startsWith("/path/to/")) {
    // the ImageNet presets' dataPath, which cannot know where a user keeps the data
    throw new DatasetError(`dataset path ${full} is a placeholder: give where your data is (--data-path, or dataPath from code; ${FORMATS_HELP})`);
  }
  if (!existsSync(full)) throw new DatasetError(`dataset path ${full} does not exist; give the folder or file of the data (${FORMATS_HELP})`);
  const stat = statSync(full);
  if (stat.isFile()) {
    // Both lists name their classes alike: the other split's labels count too.
    if (/\.(txt|lst|csv)$/i.test(full)) return openList(full, split);
    if (/idx3-ubyte(\.gz)?$/.test(full)) {
      const images = fileOfSplit(full, split);
      return new IdxDataset(images, images);
    }
    throw new DatasetError(`cannot tell the format of ${full}: ${FORMATS_HELP}`);
  }
  if (!stat.isDirectory()) throw new DatasetError(`dataset path ${full} is neither a file nor a folder (a device, pipe or socket); ${FORMATS_HELP}`);
  const idx = idxImagesFile(full, split);
  if (idx) return new IdxDataset(full, idx);
  const cifar = cifarFiles(full, split);
  if (cifar) return new CifarDataset(full, cifar.files, cifar.labelBytes);
  if (idxImagesFile(full, "train") || cifarFiles(full, "train")) throw new DatasetError(`${full} has no test split; ${TEST_SPLIT_HELP}`);
  if (idxImagesFile(full, "test") || cifarFiles(full, "test")) {
    throw new DatasetError(
      `${full} holds a test split alone (t10k-* or test_batch.bin files): the training split's files (train-* or data_batch_*.bin) belong beside them`,
    );
  }
  const subfolders = (names: string[]) => names.map((s) => join(full, s)).filter((d) => existsSync(d) && statSync(d).isDirectory());
  const trainDir = subfolders(["train"])[0];
  // Tiny ImageNet's test/ holds unlabelled images; its val/ is the labelled test split.
  const testDirs = subfolders(TEST_FOLDERS);
  const testDir = testDirs.find((d) => isLabelled(d, trainDir)) ?? testDirs[0];
  if (split === "test" && !testDir)
    throw new DatasetError(`${full} has no test split (no ${TEST_FOLDERS.map((f) => `${f}/`).join(", ")} subfolder); ${TEST_SPLIT_HELP}`);
  if (!testDir) return openFolder(trainDir ?? full);
  // Without train/, the whole folder would be the training split: it must not hold the test images too.
  if (!trainDir)
    throw new DatasetError(`${full} has ${basename(testDir)}/ but no train/ subfolder: put the training images in ${join(full, "train")}`);
  // Both splits name their classes alike: a class folder that one split lacks keeps its index in the other.
  const classes = [...new Set([...classesOfSplit(trainDir), ...classesOfSplit(testDir)])].sort();
  return openFolder(split === "test" ? testDir : trainDir, classes);
}

/**
 * The labels of a split folder that names its images' classes in a file rather than by folders:
 * Tiny ImageNet's val/val_annotations.txt, a line `val_0.JPEG<TAB>n03444034<TAB>box...` for each
 * image under val/images/. A map from file name to class, or undefined where there is no such file.
 */
function annotationsOf(dir: string): Map<string, string> | undefined {
  const file = join(dir, `${basename(dir)}_annotations.txt`);
  if (!existsSync(file)) return undefined;
  const classOf = new Map<string, string>();
  listText(file)
    .split(/\r\n|\r|\n/)
    .forEach((line, lineNo) => {
      if (line.trim() === "") return;
      const [name, label] = line.includes("\t") ? line.split("\t") : line.trim().split(/\s+/);
      if (!name || !label) throw new DatasetError(`${file}:${lineNo + 1}: expected \`file<TAB>class\` (the image's file name, then its class)`);
      classOf.set(name.trim(), label.trim());
    });
  return classOf;
}

/** The classes of a split folder: those its annotations name, else its subfolders. */
function classesOfSplit(dir: string): string[] {
  const annotations = annotationsOf(dir);
  return annotations ? [...new Set(annotations.values())] : classFolders(dir);
}

/**
 * Whether a split folder labels its images: by an annotations file, or by class subfolders
 * other than a lone `images/` (a split of unlabelled images, as Tiny ImageNet's test/, unless
 * the training split has a class of that name).
 */
function isLabelled(dir: string, trainDir: string | undefined): boolean {
  if (annotationsOf(dir)) return true;
  const folders = classFolders(dir);
  if (folders.length === 0) return false;
  return !(folders.length === 1 && folders[0] === "images" && !(trainDir && classFolders(trainDir).includes("images")));
}

/** The names of the subfolders of `dir` (through links), each a class of an image folder. */
function classFolders(dir: string): string[] {
  return readFolder(dir)
    .filter((e) => !isHidden(e.name) && kindOf(join(dir, e.name), e) === "directory")
    .map((e) => e.name);
}

/** A folder entry as a directory or a file, through symbolic links (as torchvision's ImageFolder). */
function kindOf(path: string, entry: Dirent): "directory" | "file" | undefined {
  if (!entry.isSymbolicLink()) return entry.isDirectory() ? "directory" : entry.isFile() ? "file" : undefined;
  try {
    const target = statSync(path);
    return target.isDirectory() ? "directory" : target.isFile() ? "file" : undefined;
  } catch {
    return "file"; // a broken link: an image named so is reported by the loader when it fails to read it
  }
}

/**
 * Files and folders that hold no data of their own: hidden ones (`.ipynb_checkpoints/`, macOS's
 * `._photo.jpg` beside each `photo.jpg`, `.DS_Store`) and the `__MACOSX/` of a zip made on a Mac.
 */
const isHidden = (name: string) => name.startsWith(".") || name === "__MACOSX";

/** The entries of a folder of the dataset; one that cannot be read stops the opening, named. */
function readFolder(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    const reason = whyUnreadable(err);
    throw new DatasetError(`cannot read the folder ${dir} of the dataset: ${reason}; make it readable, or move it out of the dataset's folder`);
  }
}

/** The image files under a folder, and the count of those in formats that are not decoded, by extension. */
interface Walked {
  files: string[];
  unread: Map<string, number>;
  /** Files and folders whose names are not UTF-8: Node reads them with U+FFFD for the bytes it cannot decode, and cannot open them by that name. */
  misnamed: string[];
}

/**
 * Image files under `dir`, nested, in name order. A link to a folder above it (`ancestors`, real
 * paths) would loop and is passed over; a folder reached through two names (a class folder
 * and a link to it) is read under both, as torchvision's ImageFolder reads it.
 */
function walk(dir: string, out: Walked, ancestors: ReadonlySet<string> = new Set()): void {
  const real = realpathSync(dir);
  if (ancestors.has(real)) return;
  const above = new Set(ancestors).add(real);
  const entries = readFolder(dir).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (isHidden(e.name)) continue;
    const p = join(dir, e.name);
    if (e.name.includes("\uFFFD")) {
      out.misnamed.push(p);
      continue;
    }
    const kind = kindOf(p, e);
    if (kind === "directory") walk(p, out, above);
    else if (kind === "file" && IMAGE_EXTENSIONS.test(e.name)) out.files.push(p);
    else if (kind === "file" && UNREAD_IMAGE_EXTENSIONS.test(e.name)) {
      const ext = extname(e.name).toLowerCase();
      out.unread.set(ext, (out.unread.get(ext) ?? 0) + 1);
    }
  }
}

/** Where a folder of no images holds IDX or CIFAR data one level down (an archive unpacked into it), the path to give instead. */
function nestedDataHint(dir: string): string | undefined {
  const nested = classFolders(dir)
    .map((name) => join(dir, name))
    .find((sub) => idxImagesFile(sub, "train") || cifarFiles(sub, "train"));
  if (nested) return `its subfolder ${nested} holds IDX or CIFAR data: give that folder`;
  const isFile = (name: string) => existsSync(join(dir, name)) && statSync(join(dir, name)).isFile();
  if (isFile("data_batch_1") || (isFile("train") && isFile("meta"))) {
    return "CIFAR's python version (data_batch_1, train) is not read: give CIFAR's binary version (cifar-10-binary.tar.gz, cifar-100-binary.tar.gz)";
  }
  return undefined;
}

/** The files and folders whose names are not UTF-8, and how to rename them. */
function describeMisnamed(misnamed: string[]): string {
  const count =
    misnamed.length === 1 ? "1 file or folder has a name that is" : `${misnamed.length.toLocaleString("en-US")} files or folders have names that are`;
  return `${count} not UTF-8 (the first: ${misnamed[0]}), which cannot be opened by name; rename them in UTF-8, e.g. with \`convmv -f latin1 -t utf8 -r --notest FOLDER\``;
}

/** "3 .bmp and 1 .ppm files" */
function describeUnread(unread: Map<string, number>, total: number): string {
  const parts = [...unread].map(([ext, n]) => `${n.toLocaleString("en-US")} ${ext}`);
  const list = parts.length > 1 ? `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}` : parts[0];
  return `${list} file${total === 1 ? "" : "s"}`;
}

/** The images under `dir`, each of the class of its top-level subfolder: those of `classes` when given, else those that hold images. */
function openFolder(dir: string, givenClasses?: string[]): Dataset {
  const walked: Walked = { files: [], unread: new Map(), misnamed: [] };
  walk(dir, walked);
  const { files } = walked;
  const unread = [...walked.unread.values()].reduce((a, b) => a + b, 0);
  const [them, theyAre] = unread === 1 ? ["it", "it is"] : ["them", "they are"];
  const convert = `which sere-torch does not decode (convert ${them} to PNG, e.g. with ImageMagick's \`mogrify -format png\`)`;
  if (files.length === 0) {
    const held = unread > 0 ? `: it holds ${describeUnread(walked.unread, unread)}, ${convert}` : "";
    if (walked.misnamed.length > 0) throw new DatasetError(`no images that can be opened under ${dir}: ${describeMisnamed(walked.misnamed)}`);
    throw new DatasetError(`no images (${IMAGE_FORMATS}) under ${dir}${held}; ${nestedDataHint(dir) ?? FORMATS_HELP}`);
  }
  const leftOutParts = [
    ...(unread > 0 ? [`${dir} holds ${describeUnread(walked.unread, unread)}, ${convert}: ${theyAre} left out`] : []),
    ...(walked.misnamed.length > 0 ? [`${describeMisnamed(walked.misnamed)}: they are left out`] : []),
  ];
  const leftOut = leftOutParts.length > 0 ? leftOutParts.join("; ") : undefined;
  // The class of a file is its annotation, else its top-level subfolder; files directly in `dir`
  // are unlabelled, as are those of a split folder's lone images/ (Tiny ImageNet's test/).
  const annotations = annotationsOf(dir);
  const lone = !annotations && givenClasses === undefined && !isLabelled(dir, undefined);
  const classOf = files.map((f) => {
    if (annotations) return annotations.get(basename(f));
    if (lone) return undefined;
    const parts = relative(dir, f).split(sep);
    return parts.length > 1 ? parts[0]! : undefined;
  });
  const classes = givenClasses ?? [...new Set(classOf.filter((c): c is string => c !== undefined))].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  return new FileDataset(
    "image-folder",
    dir,
    files,
    classOf.map((c) => (c === undefined ? -1 : index.get(c)!)),
    classes,
    leftOut,
  );
}

/** A CSV header's names for the path column and the label column (`filename,label,split`). */
const PATH_COLUMN = /^(path|file|filename|file_name|filepath|file_path|image|image_path|image_name|img|img_path)$/i;
const LABEL_COLUMN = /^(label|class|class_name|classname|target|category)$/i;
/** A column that says each row's split, and the values of each split (others are left out). */
const SPLIT_COLUMN = /^(split|subset|set|partition)$/i;
const SPLIT_VALUES: Record<Split, RegExp> = { train: /^(train|training)$/i, test: /^(test|testing|val|valid|validation)$/i };

/** Where a CSV's path and label are among its columns, as its header names them. */
interface Columns {
  count: number;
  path: number;
  label?: number;
  split?: number;
}

/**
 * The columns a first line names when it is a CSV header that the plain `path,label` reading
 * cannot follow: more than two columns (`filename,label,split`) or the path after the label
 * (`label,filename`). Undefined for any other first line.
 */
function headerColumns(file: string, lineNo: number, line: string): Columns | undefined {
  if (!line.includes(",")) return undefined;
  const names = csvFields(file, lineNo, line);
  const path = names.findIndex((n) => PATH_COLUMN.test(n));
  const label = names.findIndex((n) => LABEL_COLUMN.test(n));
  if (path === 0 && names.length === 2) return undefined;
  const split = names.findIndex((n) => SPLIT_COLUMN.test(n));
  if (path >= 0) return { count: names.length, path, label: label >= 0 ? label : undefined, split: split >= 0 ? split : undefined };
  if (names.length > 2 && !names.some((n) => IMAGE_EXTENSIONS.test(n))) {
    throw new DatasetError(
      `${file}:${lineNo + 1}: a header of ${names.length} columns (${names.join(", ")}) that names no path column: ` +
        "name the images' column path (or file, filename, image) and their classes' column label (or class, target, category)",
    );
  }
  return undefined;
}

/** A text list's paths and labels (or undefined), and where a column says it, each row's split. */
interface ListRows {
  files: string[];
  names: Array<string | undefined>;
  splits?: string[];
}

/** The rows of a text list. */
function readList(file: string): ListRows {
  const base = dirname(file);
  const files: string[] = [];
  const names: Array<string | undefined> = [];
  const splits: string[] = [];
  let first = true;
  let columns: Columns | undefined;
  listText(file)
    .split(/\r\n|\r|\n/) // Windows', Unix's and old Macs' (a spreadsheet's "CSV (Macintosh)") line ends
    .forEach((raw, lineNo) => {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) return;
      const isFirst = first;
      first = false;
      if (isFirst) columns = headerColumns(file, lineNo, line);
      if (isFirst && columns) return;
      let [p, label, split] = columns ? fieldsOfColumns(file, lineNo, line, columns) : pathAndLabel(file, lineNo, line);
      if (label === "") label = undefined;
      // A path with spaces and no label: its last word is a file name, and the whole line names a file.
      if (!columns && label !== undefined && IMAGE_EXTENSIONS.test(label) && existsSync(resolve(base, line))) [p, label] = [line, undefined];
      // A header (`path,label`): a first line whose path has no file extension and names no file.
      if (isFirst && p !== undefined && !/\.\w+$/.test(p) && !existsSync(resolve(base, p))) return;
      // an empty path, or a row of separators (`,,,`), names no file
      if (!p || /^[\s,]*$/.test(p)) throw new DatasetError(`${file}:${lineNo + 1}: expected \`path [label]\`, found no path in "${line}"`);
      files.push(resolve(base, p));
      names.push(label);
      splits.push(split ?? "");
    });
  return { files, names, ...(columns?.split !== undefined ? { splits } : {}) };
}

/**
 * A line's path and label: `"path",label` as a spreadsheet quotes it; else `path,label` split at
 * the last comma, `path label` at the last space. A line of more comma-separated fields whose
 * first is an image file is refused: split at the last comma, its path would name no file.
 */
function pathAndLabel(file: string, lineNo: number, line: string): [string | undefined, string | undefined, undefined] {
  const fields = line.startsWith('"') || line.includes(",") ? csvFields(file, lineNo, line) : [];
  const tooMany = `${file}:${lineNo + 1}: ${fields.length} fields where a list has a path and a label; keep those two columns, or name the columns in a header line (path,label,...)`;
  if (line.startsWith('"')) {
    if (fields.length > 2) throw new DatasetError(tooMany);
    return [fields[0], fields[1], undefined];
  }
  if (fields.length > 2 && IMAGE_EXTENSIONS.test(fields[0]!) && existsSync(resolve(dirname(file), fields[0]!))) throw new DatasetError(tooMany);
  const [, p, label] = (line.includes(",") ? /^(.*?)\s*,\s*([^,]*)$/ : /^(.*?)(?:\s+(\S+))?$/).exec(line)!;
  return [p, label, undefined];
}

/** The path, label and split of a row of a CSV whose header named its columns. */
function fieldsOfColumns(file: string, lineNo: number, line: string, columns: Columns): [string | undefined, string | undefined, string | undefined] {
  const fields = csvFields(file, lineNo, line);
  if (fields.length !== columns.count) {
    throw new DatasetError(
      `${file}:${lineNo + 1}: ${fields.length} fields where the header names ${columns.count}; quote a field that holds a comma ("my, photo.jpg")`,
    );
  }
  const field = (column: number | undefined) => (column === undefined ? undefined : fields[column]);
  return [fields[columns.path], field(columns.label), field(columns.split)];
}

/** A list's text: UTF-8, or UTF-16 where its byte-order mark says so (Windows' "Unicode text"). */
function listText(file: string): string {
  const bytes = readFileSync(file);
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.subarray(2).toString("utf16le");
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return Buffer.from(bytes.subarray(2)).swap16().toString("utf16le");
  return bytes.toString("utf8");
}

/** The fields of a CSV row, quoted or not (`"my, photo.jpg","cat"`; `""` is a quote). */
function csvFields(file: string, lineNo: number, line: string): string[] {
  const fields: string[] = [];
  const field = /\s*(?:"((?:[^"]|"")*)"|([^,]*?))\s*(?:,|$)/y;
  while (field.lastIndex < line.length) {
    const match = field.exec(line);
    // a field that opens a quote it does not close is not a path starting with a quote
    if (!match || match[2]?.startsWith('"')) throw new DatasetError(`${file}:${lineNo + 1}: a quote that is not closed; expected \`"path",label\``);
    fields.push(match[1] !== undefined ? match[1].replace(/""/g, '"') : match[2]!);
  }
  if (line.endsWith(",")) fields.push(""); // a last field left empty
  return fields;
}

/**
 * Refuses a list whose paths mostly name no file, judged on up to 200 of them spread over
 * the list: paths relative to another folder than the list's would otherwise fail one by one
 * as images that "cannot be decoded". A few missing files are left to the loader's policy.
 */
function checkListedFiles(file: string, files: string[]): void {
  const count = Math.min(200, files.length);
  const sample = Array.from({ length: count }, (_, i) => Math.floor((i * files.length) / count)); // distinct: a step of 1 or more
  const missing = sample.filter((i) => !existsSync(files[i]!));
  if (missing.length * 2 <= sample.length) return;
  throw new DatasetError(
    `${missing.length} of ${sample.length} paths checked in ${file} name no file (the first: ${files[missing[0]!]}); ` +
      `a list's relative paths are taken from its own folder, ${dirname(file)}: write them from there, or as absolute paths`,
  );
}

/**
 * The `split` of the text list `file`: its rows of that split where a column says each row's
 * (others are left out, named), else the list itself for training and the list beside it (test
 * for train) for testing. Both splits number their classes alike: all the rows' labels count.
 */
function openList(file: string, split: Split): Dataset {
  const rows = readList(file);
  if (rows.splits) return listDataset(file, rows, rows.names, split);
  if (split === "test") {
    const test = fileOfSplit(file, split);
    const testRows = readList(test);
    return listDataset(test, testRows, [...testRows.names, ...rows.names]);
  }
  const sibling = testSibling(file);
  return listDataset(file, rows, [...rows.names, ...(sibling ? readList(sibling).names : [])]);
}

/** A dataset of a list's rows (those of `split`, where the list has a split column), its classes those of `allNames`. */
function listDataset(file: string, rows: ListRows, allNames: Array<string | undefined>, split?: Split): Dataset {
  let { files, names } = rows;
  let leftOut: string | undefined;
  if (split && rows.splits) {
    const kept = rows.splits.map((value) => SPLIT_VALUES[split].test(value));
    const other = rows.splits.filter((value) => !SPLIT_VALUES.train.test(value) && !SPLIT_VALUES.test.test(value));
    [files, names] = [files.filter((_, i) => kept[i]), names.filter((_, i) => kept[i])];
    if (files.length === 0) {
      const values = split === "train" ? "train (or training)" : "test (or val, validation)";
      throw new DatasetError(`${file} has no rows of the ${split}ing split: its split column gives ${values} for them`);
    }
    if (other.length > 0) {
      const seen = [...new Set(other)].map((v) => `"${v}"`).join(", ");
      const [rows, belong, they] =
        other.length === 1 ? ["1 row", "belongs", "it is"] : [`${other.length.toLocaleString("en-US")} rows`, "belong", "they are"];
      leftOut = `${rows} of ${file} ${belong} to neither split (split ${seen}): ${they} left out`;
    }
  }
  if (files.length === 0) throw new DatasetError(`${file} lists no images; write one \`path [label]\` per line`);
  checkListedFiles(file, files);
  const labelled = allNames.filter((n): n is string => n !== undefined);
  const distinct = [...new Set(labelled)];
  // A loop, not Math.max(...): a list of a million labels would overflow the call stack.
  const largest = labelled.reduce((m, n) => Math.max(m, /^\d+$/.test(n) ? Number(n) : Number.POSITIVE_INFINITY), -1);
  // Numbers are class indices where they nearly fill 0..largest (ImageNet's 0-999); sparse ones
  // (ids such as 1000000000) are names, in numeric order, rather than a class per number between.
  const indices = largest < 2 * distinct.length;
  const classes = indices
    ? Array.from({ length: largest + 1 }, (_, i) => String(i))
    : Number.isFinite(largest)
      ? distinct.sort((a, b) => Number(a) - Number(b))
      : distinct.sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  const labels = names.map((n) => (n === undefined ? -1 : indices ? Number(n) : index.get(n)!));
  return new FileDataset("text-list", file, files, labels, classes, leftOut);
}
