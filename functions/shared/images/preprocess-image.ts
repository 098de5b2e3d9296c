/**
 * Encoded image bytes to the model's input: RGB bytes, HWC, size×size. EXIF orientation applied, colour
 * converted to sRGB (CMYK, greyscale, 16-bit, CIELab included), alpha dropped, first frame of animations.
 * A bad image is a Failure with a code, never an exception.
 */
import sharp, { type Metadata, type Region } from 'sharp';
import type { ResizeMode } from '../config.ts';
import type { Failure } from '../failures.ts';
import { logger } from '../observability.ts';
import { enlargeBicubic, enlargementAvailable } from './bicubic-enlarge.ts';
import { readJpegFrame } from './jpeg-header.ts';

// Lambda and workers decode a stream of different images: libvips' operation cache would only grow.
sharp.cache(false);
if (!enlargementAvailable) {
  logger.warn('this CPU cannot run WebAssembly SIMD: small images are enlarged by sharp, 2 to 3 ms of CPU more each');
}

export interface PreprocessOptions {
  /** Side of the square output, in pixels. */
  size: number;
  resize: ResizeMode;
  /** Refused from the header, before any pixel is decoded. */
  maxPixels: number;
}

export type PreprocessResult = { ok: true; pixels: Uint8Array } | { ok: false; failure: Failure };

/** Raster formats accepted; sharp also renders SVG and PDF, which are not photographs. */
const rasterFormats = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif', 'avif', 'jp2k', 'jxl']);

/** The kernel the reference inputs were made with (sharp's default), named so metadata can record it. */
export const resizeKernel = 'lanczos3';

/**
 * JPEG's and PNG's signatures: nearly every photo. Such an image is decoded at once, its header read by the decode
 * alone (which enforces the pixel limit from it), not by metadata() first: that read cost 0.4 ms of CPU per
 * Fruits-360 image, a tenth of decoding it.
 */
const signatures = [Uint8Array.of(0xff, 0xd8, 0xff), Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)];

export async function preprocessImage(bytes: Uint8Array, options: PreprocessOptions): Promise<PreprocessResult> {
  if (bytes.byteLength === 0) return failed('EMPTY', 'the object has 0 bytes');
  // Center-crop needs the oriented dimensions first. Whatever the direct decode refuses takes the checked path,
  // which names the failure as it always has.
  if (options.resize === 'squash' && signatures.some((signature) => startsWith(bytes, signature))) {
    const decoded = await decodeSquare(bytes, options).catch(() => undefined);
    if (decoded?.ok) return decoded;
  }
  return checkedPreprocess(bytes, options);
}

/** Any format: the header read first, format, pixel limit and orientation checked before any pixel is decoded. */
export async function checkedPreprocess(bytes: Uint8Array, options: PreprocessOptions): Promise<PreprocessResult> {
  let metadata: Metadata;
  try {
    // Reads the header only: dimensions are known before any pixel is decoded.
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    return classifyHeaderError(error);
  }
  const { format, width = 0, height = 0 } = metadata;
  if (!rasterFormats.has(format)) return failed('UNSUPPORTED_FORMAT', `${format} is not a supported raster format`);
  const frameHeight = metadata.pageHeight ?? height;
  if (width * frameHeight > options.maxPixels) {
    return failed(
      'TOO_LARGE',
      `${width}x${frameHeight} is ${megapixels(width * frameHeight)} MP, over the ${megapixels(options.maxPixels)} MP limit`,
    );
  }
  const crop = options.resize === 'center-crop' ? centredSquare(metadata.autoOrient ?? { width, height: frameHeight }) : undefined;
  try {
    return await decodeSquare(bytes, options, crop);
  } catch (error) {
    return classifyDecodeError(error, metadata);
  }
}

/**
 * Decodes, orients, converts and resizes: the model's input. Throws what libvips throws. A small plain JPEG is
 * enlarged by bicubic-enlarge.ts instead of by sharp (`enlargeOutsideSharp`): the same pixels, 2 to 3 ms of CPU
 * less per Fruits-360 image. Converting to sRGB before enlarging instead of after changes nothing for these inputs (a
 * grey image's three bands are copies).
 */
async function decodeSquare(
  bytes: Uint8Array,
  options: PreprocessOptions,
  crop?: Region,
  enlargeOutsideSharp = enlargementAvailable && !crop && enlargesWithoutTurning(bytes, options.size),
): Promise<PreprocessResult> {
  let pipeline = sharp(bytes, { failOn: 'error', limitInputPixels: options.maxPixels, sequentialRead: true }).rotate();
  if (crop) pipeline = pipeline.extract(crop);
  pipeline = pipeline.toColourspace('srgb').removeAlpha();
  if (!enlargeOutsideSharp) pipeline = pipeline.resize(options.size, options.size, { fit: 'fill', kernel: resizeKernel });
  const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const pixels = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (enlargeOutsideSharp) {
    // A decode that is not what the header said goes through sharp's resize, which decides.
    if (info.channels !== 3 || info.width > options.size || info.height > options.size) return decodeSquare(bytes, options, crop, false);
    return { ok: true, pixels: enlargeBicubic(pixels, info.width, info.height, 3, options.size) };
  }
  if (info.width !== options.size || info.height !== options.size || info.channels !== 3) {
    return failed('CORRUPT', `decoded to ${info.width}x${info.height}x${info.channels}, expected ${options.size}x${options.size}x3`);
  }
  return { ok: true, pixels };
}

/**
 * An 8-bit grey or colour JPEG no larger than the square on either side, with no APP1 segment (so no EXIF
 * orientation: sharp turns an image after resizing it, which a resize of the turned pixels would not reproduce).
 * Every Fruits-360 image is one.
 */
function enlargesWithoutTurning(bytes: Uint8Array, size: number): boolean {
  const frame = readJpegFrame(bytes);
  return (
    frame !== undefined &&
    !frame.app1 &&
    frame.precision === 8 &&
    (frame.components === 1 || frame.components === 3) &&
    frame.width <= size &&
    frame.height <= size
  );
}

/** The largest centred square of an image as EXIF orientation turns it. */
function centredSquare(oriented: { width: number; height: number }): Region {
  const side = Math.min(oriented.width, oriented.height);
  return { left: Math.floor((oriented.width - side) / 2), top: Math.floor((oriented.height - side) / 2), width: side, height: side };
}

function startsWith(bytes: Uint8Array, signature: Uint8Array): boolean {
  return bytes.byteLength >= signature.byteLength && signature.every((byte, i) => bytes[i] === byte);
}

function classifyHeaderError(error: unknown): PreprocessResult {
  const message = firstLine(error);
  if (/unsupported image format/i.test(message)) return failed('UNSUPPORTED_FORMAT', 'not a recognised image format');
  return failed('CORRUPT', message);
}

function classifyDecodeError(error: unknown, metadata: Metadata): PreprocessResult {
  const message = firstLine(error);
  if (/exceeds pixel limit/i.test(message)) return failed('TOO_LARGE', message);
  if (metadata.format === 'heif' && metadata.compression === 'hevc') {
    return failed('UNSUPPORTED_FORMAT', 'HEIC (HEVC-coded HEIF) cannot be decoded by this build of libvips; convert to JPEG or AVIF');
  }
  if (/not been built in|no decoding plugin|unsupported/i.test(message)) return failed('UNSUPPORTED_FORMAT', message);
  return failed('CORRUPT', message);
}

function failed(code: Failure['code'], message: string): PreprocessResult {
  return { ok: false, failure: { code, message } };
}

function firstLine(error: unknown): string {
  const line =
    String((error as Error)?.message ?? error)
      .split('\n')[0]
      ?.trim() ?? '';
  // libvips keeps one error buffer per process: concurrent decodes can leave a failure without its text.
  return line === '' || line === 'Unknown error' ? 'the image data could not be decoded (damaged or truncated)' : line;
}

function megapixels(pixels: number): string {
  return (pixels / 1e6).toFixed(pixels < 1e7 ? 1 : 0);
}

/** How the pixels were made, recorded with the vectors (shard and Parquet metadata). */
export function describePreprocessing(options: PreprocessOptions): string {
  return JSON.stringify({
    size: options.size,
    resize: options.resize,
    kernel: resizeKernel,
    orientation: 'exif',
    colourspace: 'srgb',
    alpha: 'removed',
    frame: 'first',
    maxPixels: options.maxPixels,
  });
}
