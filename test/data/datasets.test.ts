import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { PRESETS } from "../../src/config/presets.js";
import { requireLabelledSplits, requireLabels } from "../../src/data/datasets/dataset.js";
import { openDataset } from "../../src/data/datasets/open.js";
import { decodeImage, shrinkFactor } from "../../src/data/decode.js";
import { hasFashionMnist } from "../requirements.js";
import { rgb, tempDir, writeIdx, writeJpeg, writePng } from "./helpers.js";

describe("datasets", () => {
  it("reads IDX files (gzipped), with labels, splits, classes and size range", async () => {
    const dir = tempDir("idx");
    writeIdx(dir, "train", 12);
    writeIdx(dir, "t10k", 5);
    const train = openDataset(dir);
    expect([train.format, train.size, train.classes.length]).toEqual(["idx", 12, 10]);
    expect(openDataset(dir, { split: "test" }).size).toBe(5);
    expect(train.label(7)).toBe(7);
    const img = await train.load(3);
    expect([img.width, img.height, img.data.length]).toEqual([28, 28, 28 * 28 * 3]);
    expect(img.data[0]).toBe(img.data[1]); // grayscale expanded
    expect(await train.sizeRange()).toEqual({ minWidth: 28, maxWidth: 28, minHeight: 28, maxHeight: 28 });
    // an index that names no image is refused, where a read would give a blank image or others' bytes
    for (const index of [12, -1, 1.5, Number.NaN]) {
      await expect(train.load(index)).rejects.toThrow(new RangeError(`image ${index} of ${dir}: it holds 12 images, 0 to 11`));
      expect(() => train.label(index)).toThrow(RangeError);
      expect(() => train.describe(index)).toThrow(RangeError);
    }
  });

  it.runIf(hasFashionMnist())("opens Debian's Fashion-MNIST", () => {
    const d = openDataset("/usr/share/datasets/fashion-mnist", { split: "test" });
    expect(d.size).toBe(10000);
    expect(d.classes[9]).toBe("Ankle boot");
  });

  it("reads CIFAR-10 binary batches: label byte, then R, G, B planes", async () => {
    const dir = tempDir("cifar");
    const record = Buffer.alloc(1 + 3072);
    record[0] = 3;
    record.fill(10, 1, 1 + 1024);
    record.fill(20, 1 + 1024, 1 + 2048);
    record.fill(30, 1 + 2048);
    writeFileSync(join(dir, "data_batch_1.bin"), Buffer.concat([record, record]));
    writeFileSync(join(dir, "test_batch.bin"), record);
    writeFileSync(join(dir, "batches.meta.txt"), "airplane\nautomobile\nbird\ncat\n");
    const d = openDataset(dir);
    expect([d.format, d.size, d.label(1), d.classes[3]]).toEqual(["cifar", 2, 3, "cat"]);
    expect(() => d.label(2)).toThrow(`image 2 of ${dir}: it holds 2 images, 0 to 1`);
    const img = await d.load(0);
    expect([img.width, img.height, ...img.data.subarray(0, 6)]).toEqual([32, 32, 10, 20, 30, 10, 20, 30]);
    expect(openDataset(dir, { split: "test" }).size).toBe(1);
    expect(d.leftOut).toBe(
      `${dir} holds 1 of CIFAR-10's 5 training batches (data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, data_batch_5.bin missing): training on those`,
    );
    // unpacked one level down: that folder is named; a test batch alone is named as such
    const parent = tempDir("cifar-parent");
    mkdirSync(join(parent, "cifar-10-batches-bin"));
    writeFileSync(join(parent, "cifar-10-batches-bin", "data_batch_1.bin"), record);
    expect(() => openDataset(parent)).toThrow(`its subfolder ${join(parent, "cifar-10-batches-bin")} holds IDX or CIFAR data: give that folder`);
    const testOnly = tempDir("cifar-test-only");
    writeFileSync(join(testOnly, "test_batch.bin"), record);
    expect(() => openDataset(testOnly)).toThrow(`${testOnly} holds a test split alone (t10k-* or test_batch.bin files)`);
    // an empty batch is named, not read as a dataset of no images
    writeFileSync(join(dir, "test_batch.bin"), "");
    expect(() => openDataset(dir, { split: "test" })).toThrow(`${join(dir, "test_batch.bin")} is empty; download the binary version again`);
  });

  it("reads an image folder (nested, labels from top-level folders) and a text list", async () => {
    const root = tempDir("folder");
    mkdirSync(join(root, "b", "deep"), { recursive: true });
    mkdirSync(join(root, "a"));
    await writeJpeg(join(root, "a", "1.jpg"), 30, 20, 1);
    await writePng(join(root, "b", "deep", "2.png"), 10, 40, 2);
    writeFileSync(join(root, "b", "readme.txt"), "not an image");
    const d = openDataset(root);
    expect([d.format, d.size, d.classes]).toEqual(["image-folder", 2, ["a", "b"]]);
    await expect(d.load(2)).rejects.toThrow(`image 2 of ${root}: it holds 2 images, 0 to 1`);
    expect([d.label(0), d.label(1)]).toEqual([0, 1]);
    expect(await d.sizeRange()).toEqual({ minWidth: 10, maxWidth: 30, minHeight: 20, maxHeight: 40 });
    // Hidden files and folders, and a Mac zip's __MACOSX/, hold no data: no class, no image.
    mkdirSync(join(root, ".ipynb_checkpoints"));
    await writeJpeg(join(root, ".ipynb_checkpoints", "1.jpg"), 30, 20, 1);
    writeFileSync(join(root, "a", "._1.jpg"), "resource fork");
    mkdirSync(join(root, "__MACOSX", "a"), { recursive: true });
    writeFileSync(join(root, "__MACOSX", "a", "._1.jpg"), "resource fork");
    const shown = openDataset(root);
    expect([shown.size, shown.classes]).toEqual([2, ["a", "b"]]);

    writeFileSync(join(root, "list.txt"), "# images\na/1.jpg cat\nb/deep/2.png dog\n");
    const list = openDataset(join(root, "list.txt"));
    expect([list.format, list.size, list.classes, list.label(1)]).toEqual(["text-list", 2, ["cat", "dog"], 1]);
    expect((await list.load(1)).width).toBe(10);
    // A CSV's header line is not an image; a path with spaces and no label is one path.
    mkdirSync(join(root, "my photos"));
    await writeJpeg(join(root, "my photos", "3 of 4.jpg"), 12, 12, 3);
    writeFileSync(join(root, "list.csv"), "filename,class\na/1.jpg,cat\nmy photos/3 of 4.jpg\nmy photos/3 of 4.jpg,dog\n");
    const csv = openDataset(join(root, "list.csv"));
    expect(Array.from({ length: csv.size }, (_, i) => [csv.describe(i), csv.label(i)])).toEqual([
      [join(root, "a", "1.jpg"), 0],
      [join(root, "my photos", "3 of 4.jpg"), -1],
      [join(root, "my photos", "3 of 4.jpg"), 1],
    ]);
    expect(csv.classes).toEqual(["cat", "dog"]);
    // as a spreadsheet writes it: quoted fields, in UTF-16 with its byte-order mark
    const quoted = '"filename","class"\r\n"my photos/3 of 4.jpg","dog"\r\n"a/1.jpg",cat\r\n';
    writeFileSync(join(root, "quoted.csv"), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(quoted, "utf16le")]));
    const spreadsheet = openDataset(join(root, "quoted.csv"));
    expect(Array.from({ length: spreadsheet.size }, (_, i) => [spreadsheet.describe(i), spreadsheet.classes[spreadsheet.label(i)]])).toEqual([
      [join(root, "my photos", "3 of 4.jpg"), "dog"],
      [join(root, "a", "1.jpg"), "cat"],
    ]);
    writeFileSync(join(root, "three.csv"), '"a/1.jpg",cat,train\n');
    expect(() => openDataset(join(root, "three.csv"))).toThrow(
      `${join(root, "three.csv")}:1: 3 fields where a list has a path and a label; keep those two columns`,
    );
    writeFileSync(join(root, "three.csv"), "a/1.jpg,cat,train\n");
    expect(() => openDataset(join(root, "three.csv"))).toThrow(`${join(root, "three.csv")}:1: 3 fields where a list has a path and a label`);
    // rows that name no file are refused when the list opens, not met one by one in training
    writeFileSync(join(root, "broken.csv"), 'a/1.jpg,cat\n"unterminated,cat\n');
    expect(() => openDataset(join(root, "broken.csv"))).toThrow(`${join(root, "broken.csv")}:2: a quote that is not closed`);
    writeFileSync(join(root, "broken.csv"), "a/1.jpg,cat\n,,,\n");
    expect(() => openDataset(join(root, "broken.csv"))).toThrow(`${join(root, "broken.csv")}:2: expected \`path [label]\`, found no path in ",,,"`);
    // A header names the columns: more than two, in any order; a field with a comma is quoted;
    // a split column makes the splits (val is the test split), the classes of both alike.
    writeFileSync(
      join(root, "columns.csv"),
      'split,label,width,filename\ntrain,cat,30,a/1.jpg\ntrain,,12,"my photos/3 of 4.jpg"\nval,dog,10,b/deep/2.png\nextra,dog,10,a/1.jpg\n',
    );
    const rowsOf = (d: ReturnType<typeof openDataset>) => Array.from({ length: d.size }, (_, i) => [d.describe(i), d.label(i)]);
    const columns = openDataset(join(root, "columns.csv"));
    expect(rowsOf(columns)).toEqual([
      [join(root, "a", "1.jpg"), 0],
      [join(root, "my photos", "3 of 4.jpg"), -1],
    ]);
    expect(rowsOf(openDataset(join(root, "columns.csv"), { split: "test" }))).toEqual([[join(root, "b", "deep", "2.png"), 1]]);
    expect(columns.classes).toEqual(["cat", "dog"]);
    expect(columns.leftOut).toBe(`1 row of ${join(root, "columns.csv")} belongs to neither split (split "extra"): it is left out`);
    writeFileSync(join(root, "columns.csv"), "split,label,filename\ntrain,cat,a/1.jpg\n");
    expect(() => openDataset(join(root, "columns.csv"), { split: "test" })).toThrow(
      `${join(root, "columns.csv")} has no rows of the testing split: its split column gives test (or val, validation) for them`,
    );
    writeFileSync(join(root, "reversed.csv"), "class,image\ncat,a/1.jpg\n");
    expect([openDataset(join(root, "reversed.csv")).describe(0), openDataset(join(root, "reversed.csv")).classes]).toEqual([
      join(root, "a", "1.jpg"),
      ["cat"],
    ]);
    writeFileSync(join(root, "columns.csv"), "split,label,filename\ntrain,cat,my, photo.jpg\n");
    expect(() => openDataset(join(root, "columns.csv"))).toThrow(
      `${join(root, "columns.csv")}:2: 4 fields where the header names 3; quote a field that holds a comma ("my, photo.jpg")`,
    );
    writeFileSync(join(root, "columns.csv"), "split,y,picture\ntrain,cat,a/1.jpg\n");
    expect(() => openDataset(join(root, "columns.csv"))).toThrow(
      `${join(root, "columns.csv")}:1: a header of 3 columns (split, y, picture) that names no path column: name the images' column path`,
    );
  });

  it("opens a test split only where the data has one apart from the training images", async () => {
    // An image folder without split subfolders is all training data: no test split.
    const plain = tempDir("split-plain");
    mkdirSync(join(plain, "cats"));
    await writeJpeg(join(plain, "cats", "a.jpg"), 20, 20, 1);
    expect(openDataset(plain).size).toBe(1);
    expect(() => openDataset(plain, { split: "test" })).toThrow(
      `${plain} has no test split (no test/, val/, validation/ subfolder); evaluation needs test images that training does not see: give a folder with train/ and test/ (or val/, validation/) subfolders`,
    );
    // train/ and val/: val/ is the test split.
    const split = tempDir("split-val");
    for (const [dir, seed] of [
      ["train", 1],
      ["val", 2],
    ] as const) {
      mkdirSync(join(split, dir, "cats"), { recursive: true });
      await writeJpeg(join(split, dir, "cats", `${dir}.jpg`), 20, 20, seed);
    }
    expect(openDataset(split, { split: "test" }).describe(0)).toBe(join(split, "val", "cats", "val.jpg"));
    expect(openDataset(split).describe(0)).toBe(join(split, "train", "cats", "train.jpg"));
    // A class that one split lacks keeps the indices of the others alike in both.
    mkdirSync(join(split, "train", "dogs"));
    await writeJpeg(join(split, "train", "dogs", "d.jpg"), 20, 20, 3);
    mkdirSync(join(split, "val", "ants"));
    await writeJpeg(join(split, "val", "ants", "a.jpg"), 20, 20, 4);
    const [train, test] = [openDataset(split), openDataset(split, { split: "test" })];
    expect([train.classes, test.classes]).toEqual([
      ["ants", "cats", "dogs"],
      ["ants", "cats", "dogs"],
    ]);
    const labelsOf = (d: typeof train) => Array.from({ length: d.size }, (_, i) => [d.describe(i).slice(split.length + 1), d.label(i)]);
    expect(labelsOf(train)).toEqual([
      ["train/cats/train.jpg", 1],
      ["train/dogs/d.jpg", 2],
    ]);
    expect(labelsOf(test)).toEqual([
      ["val/ants/a.jpg", 0],
      ["val/cats/val.jpg", 1],
    ]);
    // train/ alone: its subfolders are the classes (train/ is no class); validation/ is a test split too.
    const trainOnly = tempDir("split-train-only");
    for (const dir of ["cats", "dogs"]) {
      mkdirSync(join(trainOnly, "train", dir), { recursive: true });
      await writeJpeg(join(trainOnly, "train", dir, "a.jpg"), 20, 20, 1);
    }
    expect(openDataset(trainOnly).classes).toEqual(["cats", "dogs"]);
    mkdirSync(join(trainOnly, "validation", "dogs"), { recursive: true });
    await writeJpeg(join(trainOnly, "validation", "dogs", "v.jpg"), 20, 20, 2);
    expect(openDataset(trainOnly, { split: "test" }).describe(0)).toBe(join(trainOnly, "validation", "dogs", "v.jpg"));
    expect(openDataset(trainOnly).size).toBe(2);
    // test/ without train/: the training split would hold the test images.
    const testOnly = tempDir("split-test-only");
    mkdirSync(join(testOnly, "test", "cats"), { recursive: true });
    await writeJpeg(join(testOnly, "test", "cats", "a.jpg"), 20, 20, 1);
    expect(() => openDataset(testOnly)).toThrow(
      `${testOnly} has test/ but no train/ subfolder: put the training images in ${join(testOnly, "train")}`,
    );
    // A text list named with train has its test list beside it; another list has none.
    writeFileSync(join(split, "train.txt"), "train/cats/train.jpg cat\n");
    writeFileSync(join(split, "list.txt"), "train/cats/train.jpg cat\n");
    expect(() => openDataset(join(split, "train.txt"), { split: "test" })).toThrow(
      `${join(split, "train.txt")} holds one split and no test split sits beside it`,
    );
    writeFileSync(join(split, "test.txt"), "val/cats/val.jpg cat\n");
    expect(openDataset(join(split, "train.txt"), { split: "test" }).describe(0)).toBe(join(split, "val", "cats", "val.jpg"));
    // The two lists name their classes alike, as the two folders do.
    writeFileSync(join(split, "train.txt"), "train/cats/train.jpg cat\ntrain/dogs/d.jpg dog\n");
    writeFileSync(join(split, "test.txt"), "val/ants/a.jpg ant\nval/cats/val.jpg cat\n");
    const [trainList, testList] = [openDataset(join(split, "train.txt")), openDataset(join(split, "train.txt"), { split: "test" })];
    expect([trainList.classes, testList.classes]).toEqual([
      ["ant", "cat", "dog"],
      ["ant", "cat", "dog"],
    ]);
    expect([labelsOf(trainList), labelsOf(testList)]).toEqual([
      [
        ["train/cats/train.jpg", 1],
        ["train/dogs/d.jpg", 2],
      ],
      [
        ["val/ants/a.jpg", 0],
        ["val/cats/val.jpg", 1],
      ],
    ]);
    // A list of a quarter of a million numbered images (ImageNet's is 1.28 million) opens.
    writeFileSync(join(split, "big.txt"), Array.from({ length: 250_000 }, (_, i) => `train/cats/train.jpg ${i % 1000}`).join("\n"));
    const big = openDataset(join(split, "big.txt"));
    expect([big.size, big.classes.length, big.label(249_999)]).toEqual([250_000, 1000, 999]);
    // Sparse numbers are names, not a class for every number up to the largest (which ran out of
    // memory); numbers that nearly fill 0..largest stay indices. Old Macs' line ends are lines.
    writeFileSync(join(split, "ids.txt"), "train/cats/train.jpg 1000000000\rtrain/dogs/d.jpg 7\rtrain/dogs/d.jpg 30\r");
    const ids = openDataset(join(split, "ids.txt"));
    expect([ids.classes, [0, 1, 2].map((i) => ids.label(i))]).toEqual([
      ["7", "30", "1000000000"],
      [2, 0, 1],
    ]);
    writeFileSync(join(split, "one-based.txt"), "train/cats/train.jpg 1\ntrain/dogs/d.jpg 2\n");
    expect(openDataset(join(split, "one-based.txt")).classes).toEqual(["0", "1", "2"]);
    // A list whose paths mostly name no file (written from another folder) is refused as
    // such, before training fails on them one by one; a few missing files are the loader's.
    writeFileSync(join(split, "elsewhere.txt"), Array.from({ length: 500 }, (_, i) => `cats/${i}.jpg cat`).join("\n"));
    expect(() => openDataset(join(split, "elsewhere.txt"))).toThrow(
      `200 of 200 paths checked in ${join(split, "elsewhere.txt")} name no file (the first: ${join(split, "cats", "0.jpg")}); ` +
        `a list's relative paths are taken from its own folder, ${split}: write them from there, or as absolute paths`,
    );
    writeFileSync(join(split, "few-missing.txt"), `${join(split, "train", "cats", "train.jpg")} cat\ntrain/cats/gone.jpg cat\n`);
    const fewMissing = openDataset(join(split, "few-missing.txt"));
    await expect(fewMissing.load(1)).rejects.toThrow(`cannot decode ${join(split, "train", "cats", "gone.jpg")}: there is no such file`);
    expect(() => openDataset(join(split, "list.txt"), { split: "test" })).toThrow(/list\.txt holds one split/);
    // IDX training files alone: no test split, where the folder walk would find no images.
    const idx = tempDir("split-idx");
    writeIdx(idx, "train", 3);
    expect(() => openDataset(idx, { split: "test" })).toThrow(`${idx} has no test split; evaluation needs`);
  });

  it("reads Tiny ImageNet's layout: val/ labelled by val_annotations.txt, its unlabelled test/ passed over", async () => {
    const tiny = tempDir("tiny-imagenet");
    for (const [wnid, seed] of [
      ["n01443537", 1],
      ["n01629819", 2],
    ] as const) {
      mkdirSync(join(tiny, "train", wnid, "images"), { recursive: true });
      await writeJpeg(join(tiny, "train", wnid, "images", `${wnid}_0.JPEG`), 16, 16, seed);
      writeFileSync(join(tiny, "train", wnid, `${wnid}_boxes.txt`), `${wnid}_0.JPEG\t0\t0\t15\t15\n`);
    }
    for (const dir of ["val/images", "test/images"]) mkdirSync(join(tiny, dir), { recursive: true });
    for (const i of [0, 1, 2]) await writeJpeg(join(tiny, "val", "images", `val_${i}.JPEG`), 16, 16, 3 + i);
    await writeJpeg(join(tiny, "test", "images", "test_0.JPEG"), 16, 16, 9);
    // val_2.JPEG is not annotated: it is unlabelled, not of a class "images"
    writeFileSync(join(tiny, "val", "val_annotations.txt"), "val_0.JPEG\tn01629819\t0\t32\t44\t62\nval_1.JPEG\tn01443537\t52\t37\t63\t63\n");
    const [train, test] = [openDataset(tiny), openDataset(tiny, { split: "test" })];
    expect([train.classes, test.classes]).toEqual([
      ["n01443537", "n01629819"],
      ["n01443537", "n01629819"],
    ]);
    const labelsOf = (d: typeof train) => Array.from({ length: d.size }, (_, i) => [d.describe(i).slice(tiny.length + 1), d.label(i)]);
    expect(labelsOf(train)).toEqual([
      ["train/n01443537/images/n01443537_0.JPEG", 0],
      ["train/n01629819/images/n01629819_0.JPEG", 1],
    ]);
    expect(labelsOf(test)).toEqual([
      ["val/images/val_0.JPEG", 1],
      ["val/images/val_1.JPEG", 0],
      ["val/images/val_2.JPEG", -1],
    ]);
    // test/ opened on its own: its images/ is no class
    const alone = openDataset(join(tiny, "test"));
    expect([alone.size, alone.classes, alone.label(0)]).toEqual([1, [], -1]);
    // Without val/, the unlabelled test/ is the test split, and an evaluation that needs labels says so.
    rmSync(join(tiny, "val"), { recursive: true });
    expect(() => requireLabelledSplits(openDataset(tiny), openDataset(tiny, { split: "test" }), "the k-NN evaluation", () => {})).toThrow(
      "(the test split's: images; the training split's: n01443537, n01629819)",
    );
    // A broken annotation line is named.
    mkdirSync(join(tiny, "val", "images"), { recursive: true });
    writeFileSync(join(tiny, "val", "val_annotations.txt"), "val_0.JPEG\n");
    expect(() => openDataset(tiny, { split: "test" })).toThrow(`${join(tiny, "val", "val_annotations.txt")}:1: expected \`file<TAB>class\``);
  });

  it("follows symlinked images and class folders (a link back to the top does not loop; a link to a class is a class of its own)", async () => {
    const root = tempDir("links");
    const elsewhere = tempDir("links-target");
    mkdirSync(join(root, "cats"));
    mkdirSync(join(elsewhere, "dog-pictures"));
    await writeJpeg(join(root, "cats", "a.jpg"), 30, 20, 1);
    await writePng(join(elsewhere, "b.png"), 10, 40, 2);
    await writeJpeg(join(elsewhere, "dog-pictures", "c.jpg"), 20, 20, 3);
    symlinkSync(join(elsewhere, "b.png"), join(root, "cats", "b.png")); // an image
    symlinkSync(join(elsewhere, "dog-pictures"), join(root, "dogs")); // a class folder
    symlinkSync(root, join(root, "cats", "again")); // a loop back to the top
    const d = openDataset(root);
    const files = Array.from({ length: d.size }, (_, i) => d.describe(i));
    expect(files).toEqual([join(root, "cats", "a.jpg"), join(root, "cats", "b.png"), join(root, "dogs", "c.jpg")]);
    expect([d.classes, [d.label(0), d.label(1), d.label(2)]]).toEqual([
      ["cats", "dogs"],
      [0, 0, 1],
    ]);
    expect((await d.load(1)).height).toBe(40);
    // another name for a class folder reads its images as that class too (it took them from their own class)
    symlinkSync(join(root, "dogs"), join(root, "a-alias"));
    const aliased = openDataset(root);
    expect(Array.from({ length: aliased.size }, (_, i) => [aliased.describe(i), aliased.classes[aliased.label(i)]])).toEqual([
      [join(root, "a-alias", "c.jpg"), "a-alias"],
      [join(root, "cats", "a.jpg"), "cats"],
      [join(root, "cats", "b.png"), "cats"],
      [join(root, "dogs", "c.jpg"), "dogs"],
    ]);
  });

  it("reads TIFF, GIF and AVIF files, and names the image files it cannot decode (bmp, ppm) instead of passing them by", async () => {
    const root = tempDir("formats");
    mkdirSync(join(root, "a"));
    mkdirSync(join(root, "b"));
    const pixels = rgb(16, 12, 4);
    const image = () => sharp(pixels, { raw: { width: 16, height: 12, channels: 3 } });
    await image()
      .tiff({ compression: "lzw" })
      .toFile(join(root, "a", "1.tif"));
    await image()
      .tiff()
      .toFile(join(root, "a", "2.TIFF"));
    await image()
      .gif()
      .toFile(join(root, "b", "3.gif"));
    await image()
      .avif()
      .toFile(join(root, "b", "4.avif"));
    writeFileSync(join(root, "a", "5.bmp"), "BM");
    writeFileSync(join(root, "b", "6.bmp"), "BM");
    writeFileSync(join(root, "b", "7.ppm"), "P6");
    writeFileSync(join(root, "b", "notes.txt"), "not an image, and not said to be one");
    const d = openDataset(root);
    expect([d.size, d.classes, d.label(0), d.label(2)]).toEqual([4, ["a", "b"], 0, 1]);
    // TIFF is lossless: the very pixels written
    expect(Buffer.from((await d.load(0)).data)).toEqual(pixels);
    for (const i of [2, 3]) expect([(await d.load(i)).width, (await d.load(i)).height]).toEqual([16, 12]);
    expect(d.leftOut).toBe(
      `${root} holds 2 .bmp and 1 .ppm files, which sere-torch does not decode (convert them to PNG, e.g. with ImageMagick's \`mogrify -format png\`): they are left out`,
    );
    // A list naming one says why it fails to decode.
    await expect(decodeImage(Buffer.from("BM"), join(root, "a", "5.bmp"))).rejects.toThrow(
      /sere-torch does not decode \.bmp files \(.*\); convert it to PNG/,
    );

    const only = tempDir("bmp-only");
    mkdirSync(join(only, "a"));
    writeFileSync(join(only, "a", "1.bmp"), "BM");
    expect(() => openDataset(only)).toThrow(/no images \(.*\) under .*: it holds 1 \.bmp file, which sere-torch does not decode \(convert it to PNG/);
    await writePng(join(only, "a", "2.png"), 8, 8, 1);
    expect(openDataset(only).leftOut).toMatch(/holds 1 \.bmp file, .*: it is left out$/);
    expect(openDataset(join(root, "a")).leftOut).toMatch(/holds 1 \.bmp file/);
  });

  it("requires labels where an evaluation needs them, naming an image without one", async () => {
    const root = tempDir("labels");
    mkdirSync(join(root, "cats"));
    await writePng(join(root, "cats", "1.png"), 8, 8, 1);
    expect(() => requireLabels(openDataset(root), "the k-NN evaluation")).not.toThrow();
    await writePng(join(root, "loose.png"), 8, 8, 2);
    expect(() => requireLabels(openDataset(root), "the k-NN evaluation")).toThrow(
      `${join(root, "loose.png")} has no label (an image outside ${root}'s class subfolders, or a list line without one): ` +
        "the k-NN evaluation needs every image labelled; move it into a class, or out of the data",
    );
    writeFileSync(join(root, "list.txt"), "cats/1.png\nloose.png\n");
    expect(() => requireLabels(openDataset(join(root, "list.txt")), "the linear probe")).toThrow(
      `${join(root, "list.txt")} has no labels (no class subfolders, or a list without labels): the linear probe needs labelled images`,
    );
  });

  it("compares the splits' classes: a test split of none of the training classes is refused, one of some is warned", async () => {
    const root = tempDir("split-classes");
    for (const [path, seed] of [
      ["train/n01/images/a.png", 1],
      ["train/n02/images/b.png", 2],
      ["val/images/c.png", 3], // Tiny ImageNet's val/: unsorted images, their classes in a text file
    ] as const) {
      mkdirSync(join(root, path, ".."), { recursive: true });
      await writePng(join(root, path), 8, 8, seed);
    }
    const said: string[] = [];
    const check = () => requireLabelledSplits(openDataset(root), openDataset(root, { split: "test" }), "the k-NN evaluation", (m) => said.push(m));
    expect(check).toThrow(
      `no test image of ${join(root, "val")} is of a class that ${join(root, "train")} has training images of (the test split's: images; ` +
        "the training split's: n01, n02): the k-NN evaluation needs test images sorted into the training split's classes",
    );
    mkdirSync(join(root, "val", "n01"));
    await writePng(join(root, "val", "n01", "d.png"), 8, 8, 4);
    check();
    expect(said).toEqual(["1 of 2 test images are of classes without training images (images): the k-NN evaluation cannot give them their class"]);
  });

  it("warns that data of one class scores 100% whatever the network", async () => {
    const root = tempDir("one-class");
    for (const split of ["train", "test"]) {
      mkdirSync(join(root, split, "cat"), { recursive: true });
      await writePng(join(root, split, "cat", "a.png"), 8, 8, split.length);
    }
    const said: string[] = [];
    requireLabelledSplits(openDataset(root), openDataset(root, { split: "test" }), "the k-NN evaluation", (m) => said.push(m));
    expect(said).toEqual([
      `every image of ${join(root, "train")} and ${join(root, "test")} is of one class: the k-NN evaluation will score 100% whatever the network; give images of two classes or more`,
    ]);
  });

  it("refuses a pipe named as an image rather than waiting on it", async () => {
    const root = tempDir("fifo");
    await writePng(join(root, "ok.png"), 8, 8, 1);
    execFileSync("mkfifo", [join(root, "pipe.png")]);
    writeFileSync(join(root, "list.txt"), "ok.png\npipe.png\n");
    const list = openDataset(join(root, "list.txt"));
    await expect(list.load(1)).rejects.toThrow(`cannot decode ${join(root, "pipe.png")}: it is not a regular file (a pipe, device or socket)`);
    expect((await list.load(0)).width).toBe(8);
  });

  it("names the files whose names are not UTF-8, which cannot be opened, and leaves them out", async () => {
    const root = tempDir("latin1");
    mkdirSync(join(root, "cats"));
    await writePng(join(root, "cats", "ok.png"), 8, 8, 1);
    const latin1 = Buffer.concat([Buffer.from(join(root, "cats", "caf")), Buffer.from([0xe9]), Buffer.from(".png")]);
    writeFileSync(latin1, readFileSync(join(root, "cats", "ok.png")));
    const data = openDataset(root);
    expect(data.size).toBe(1);
    expect(data.leftOut).toBe(
      `1 file or folder has a name that is not UTF-8 (the first: ${join(root, "cats", "caf\uFFFD.png")}), which cannot be opened by name; ` +
        "rename them in UTF-8, e.g. with `convmv -f latin1 -t utf8 -r --notest FOLDER`: they are left out",
    );
    rmSync(join(root, "cats", "ok.png"));
    expect(() => openDataset(root)).toThrow(`no images that can be opened under ${root}: 1 file or folder has a name that is not UTF-8`);
  });

  it("says what is wrong with a bad path", () => {
    expect(() => openDataset("/no/such/place")).toThrow(/does not exist; give the folder or file of the data/);
    // no path: "" would open the working folder, undefined or a number fail inside node:path
    for (const [path, given] of [
      ["", '""'],
      [undefined, "undefined"],
      [42, "42"],
    ] as const) {
      expect(() => openDataset(path as never)).toThrow(
        `openDataset: the path of the data (a folder or file) must be a non-empty string, given ${given}`,
      );
    }
    // the ImageNet presets' dataPath
    expect(() => openDataset(PRESETS["vit-small-imagenet"].dataPath)).toThrow(
      /^dataset path \/path\/to\/imagenet\/train is a placeholder: give where your data is \(--data-path, or dataPath from code; /,
    );
    const dir = tempDir("unknown");
    writeFileSync(join(dir, "data.bin"), "x");
    expect(() => openDataset(join(dir, "data.bin"))).toThrow(/cannot tell the format .*image folder/);
    expect(() => openDataset(dir)).toThrow(/no images \(jpg, png, webp, tiff, gif, avif\) under/);
    // A device (or a pipe) is neither: it is refused, not read as a folder or waited on.
    expect(() => openDataset("/dev/null")).toThrow(
      /dataset path \/dev\/null is neither a file nor a folder \(a device, pipe or socket\); sere-torch reads/,
    );
    // a misspelt option is refused rather than opening the training split
    expect(() => openDataset(dir, { spilt: "test" } as never)).toThrow(/spilt: no such field; did you mean split\?/);
  });
});

describe("decoding", () => {
  it("expands grayscale to RGB and drops alpha", async () => {
    const gray = await sharp(Buffer.alloc(12 * 8, 77), { raw: { width: 12, height: 8, channels: 1 } })
      .png()
      .toBuffer();
    const g = await decodeImage(gray, "gray.png");
    expect([g.width, g.height, g.data.length, g.data[0], g.data[1], g.data[2]]).toEqual([12, 8, 12 * 8 * 3, 77, 77, 77]);
    const rgba = await sharp(Buffer.alloc(5 * 5 * 4, 200), { raw: { width: 5, height: 5, channels: 4 } })
      .png()
      .toBuffer();
    expect((await decodeImage(rgba, "rgba.png")).data.length).toBe(75);
  });

  it("says a truncated file is truncated, in the decoder's words, also when decodes run side by side", async () => {
    // noise: a JPEG whose data runs long enough to be cut in the middle of the image
    const full = await sharp(
      rgb(320, 240, 9).map((v, i) => (v * 31 + i * 17) % 256),
      { raw: { width: 320, height: 240, channels: 3 } },
    )
      .jpeg()
      .toBuffer();
    const cut = full.subarray(0, full.length / 2);
    const why = (bytes: Uint8Array) =>
      decodeImage(bytes, "trunc.jpg").then(
        () => "decoded",
        (err: Error) => err.message,
      );
    expect(await why(cut)).toBe("cannot decode trunc.jpg: the file is truncated or corrupt (VipsJpeg: premature end of JPEG image)");
    // sharp loses libvips' text when another decode ends meanwhile ("Warning treated as error due to failOn setting", "error in tile 0 x 104")
    const side = await Promise.all(Array.from({ length: 48 }, (_, i) => why(i % 3 === 0 ? cut : full)));
    expect(side.filter((m) => m === "decoded")).toHaveLength(32);
    for (const message of side.filter((m) => m !== "decoded"))
      expect(message).toMatch(/^cannot decode trunc\.jpg: the file is truncated or corrupt( \(VipsJpeg: premature end of JPEG image\))?$/);
    // a PNG cut short, and a file that is no image, which keeps sharp's own reason
    const png = await sharp(rgb(30, 20, 1), { raw: { width: 30, height: 20, channels: 3 } })
      .png()
      .toBuffer();
    await expect(decodeImage(png.subarray(0, 100), "cut.png")).rejects.toThrow(
      "cannot decode cut.png: the file is truncated or corrupt (vipspng: libpng read error)",
    );
    await expect(decodeImage(Buffer.from("not a picture"), "notes.png")).rejects.toThrow(
      "cannot decode notes.png: Input buffer contains unsupported image format",
    );
  });

  it("shrinks large images on load only as far as the smallest global crop keeps the view's detail", async () => {
    const detail = { size: 224, minScale: 0.4 };
    expect(shrinkFactor(500, 375, detail)).toBe(1); // ImageNet-sized: no shrinking
    const dir = tempDir("big");
    await writeJpeg(join(dir, "big.jpg"), 2400, 1800, 1);
    const img = await decodeImage(await sharp(join(dir, "big.jpg")).toBuffer(), "big.jpg", detail);
    expect(img.width).toBeLessThan(2400);
    expect(Math.sqrt(0.75 * 0.4 * img.width * img.height)).toBeGreaterThanOrEqual(224);
    expect(Math.abs(img.width / img.height - 4 / 3)).toBeLessThan(0.01);
    // evaluation's centre crop (no minScale): 224/256 of the shorter side keeps the size asked for
    expect(shrinkFactor(400, 300, { size: 224 })).toBe(1);
    expect(shrinkFactor(4000, 3000, { size: 224 })).toBeCloseTo((3000 * 224) / 256 / 224, 10);
    const centre = await decodeImage(await sharp(join(dir, "big.jpg")).toBuffer(), "big.jpg", { size: 224 });
    expect(centre.height).toBeLessThan(1800);
    expect((Math.min(centre.width, centre.height) * 224) / 256).toBeGreaterThanOrEqual(224);
  });
});
