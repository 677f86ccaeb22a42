// Decoding image files with sharp (libvips) to uint8 RGB. Grayscale is expanded to three
// channels and alpha dropped. A large image may shrink on load, but only as far as the
// largest view still gets full detail: its smallest possible crop keeps at least the
// view's side in pixels.
import { extname } from "node:path";

import sharp from "sharp";

import { CENTRE_CROP_SHARE } from "./crops.js";
import type { RgbImage } from "./render.js";

/** The image formats read: those sharp decodes from files, but vector graphics and libvips' own. */
export const IMAGE_FORMATS = "jpg, png, webp, tiff, gif, avif";
export const IMAGE_EXTENSIONS = /\.(jpe?g|jpe|jfif|png|webp|tiff?|gif|avif)$/i;
/** Image formats of other tools that are not decoded here: a folder's files of them are counted and named, not read. */
export const UNREAD_IMAGE_EXTENSIONS = /\.(bmp|dib|p[bgpn]m|pfm|heic|heif|jp2|j2k|jpx|jxl|ico|dcm|dicom|exr|hdr|tga|psd|raw|dng|cr2|nef)$/i;

/** The largest view: its side and the smallest area fraction its crops may take. */
export interface DetailToKeep {
  /** The side a crop is resized to. */
  size: number;
  /** The smallest share of the image's area a random resized crop takes; absent: the centre crop of evaluation (CENTRE_CROP_SHARE). */
  minScale?: number;
}

/** The smallest side of any crop: of `minScale` area with aspect ratio in [3/4, 4/3], or the centre crop's. */
function smallestCropSide(width: number, height: number, minScale: number | undefined): number {
  if (minScale === undefined) return Math.min(width, height) * CENTRE_CROP_SHARE;
  return Math.sqrt(0.75 * minScale * width * height);
}

/** How much a width x height image may shrink and keep `detail` (1 = not at all). */
export function shrinkFactor(width: number, height: number, detail: DetailToKeep | undefined): number {
  if (!detail) return 1;
  const factor = smallestCropSide(width, height, detail.minScale) / detail.size;
  return factor >= 2 ? factor : 1; // shrinking by less than 2 saves little decoding work
}

/** An image that could not be decoded; `file` names it. */
export class DecodeError extends Error {
  override name = "DecodeError";
  constructor(
    readonly file: string,
    /** Why, without the file's name. */
    readonly reason: string,
  ) {
    super(`cannot decode ${file}: ${reason}`);
  }
}

/** Decodes encoded image bytes (JPEG, PNG, WebP, ...) to RGB; `file` names them in errors. */
export async function decodeImage(bytes: Uint8Array, file: string, detail?: DetailToKeep): Promise<RgbImage> {
  if (bytes.length === 0) throw new DecodeError(file, "the file is empty");
  try {
    const meta = await sharp(bytes).metadata();
    if (!meta.width || !meta.height) throw new Error("no image size in the header");
    let pipeline = sharp(bytes, { failOn: "warning" });
    const factor = shrinkFactor(meta.width, meta.height, detail);
    if (factor > 1) {
      pipeline = pipeline.resize(Math.ceil(meta.width / factor), Math.ceil(meta.height / factor), { fit: "fill" });
    }
    const { data, info } = await pipeline.removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
    const pixels = new Uint8Array(data.buffer, data.byteOffset, data.length);
    if (info.channels === 3) return { width: info.width, height: info.height, data: pixels };
    if (info.channels === 1) return grayToRgb(pixels, info.width, info.height);
    throw new Error(`unexpected ${info.channels} channels after conversion to RGB`);
  } catch (err) {
    throw new DecodeError(file, decodeFailure(await decoderMessage(err as Error, bytes), file));
  }
}

/**
 * libvips' lines that say a decode failed but not why. Its text for the cause can be lost:
 * libvips keeps one error buffer for all threads, and a decode finishing beside this one clears it.
 */
const WITHOUT_CAUSE = /^(Warning treated as error due to failOn setting|error in tile \d+ x \d+)$/;

/** The decoder's own words for why `bytes` failed; where only lines WITHOUT_CAUSE are left, from a second try. */
async function decoderMessage(err: Error, bytes: Uint8Array, retries = 1): Promise<string> {
  const lines = err.message.split("\n").map((line) => line.trim());
  const causes = [...new Set(lines.filter((line) => line !== "" && !WITHOUT_CAUSE.test(line)))];
  if (causes.length > 0 || retries === 0) return causes.join("; ");
  try {
    await sharp(bytes, { failOn: "warning" }).raw().toBuffer();
  } catch (again) {
    return decoderMessage(again as Error, bytes, retries - 1);
  }
  return "";
}

/** What libvips says of a file cut short or damaged (a download or copy that stopped, a bad disk). */
const DAMAGED = /premature end|truncated|corrupt|libpng read error|unexpected end|not enough data/i;

/** Why `file` did not decode: sharp's reason, or the format it does not read, in words a user can act on. */
function decodeFailure(message: string, file: string): string {
  const reason = message.replace(/[:\s]+$/, ""); // libvips ends some reasons with a colon and no detail
  if (UNREAD_IMAGE_EXTENSIONS.test(file)) return `sere-torch does not decode ${extname(file).toLowerCase()} files (${reason}); convert it to PNG`;
  if (reason === "" || DAMAGED.test(reason)) return `the file is truncated or corrupt${reason ? ` (${reason})` : ""}`;
  return reason;
}

/** Expands one channel to three. */
export function grayToRgb(gray: Uint8Array, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const v = gray[i]!;
    data[3 * i] = v;
    data[3 * i + 1] = v;
    data[3 * i + 2] = v;
  }
  return { width, height, data };
}

/** Width and height from the header only. */
export async function readImageSize(bytes: Uint8Array, file: string): Promise<{ width: number; height: number }> {
  try {
    const meta = await sharp(bytes).metadata();
    if (!meta.width || !meta.height) throw new Error("no image size in the header");
    return { width: meta.width, height: meta.height };
  } catch (err) {
    throw new DecodeError(file, (err as Error).message);
  }
}
