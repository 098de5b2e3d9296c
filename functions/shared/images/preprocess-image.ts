/**
 * Encoded image bytes to the model's input: RGB bytes, HWC, size×size. EXIF orientation applied, colour
 * converted to sRGB (CMYK, greyscale, 16-bit, CIELab included), alpha dropped, first frame of animations.
 * A bad image is a Failure with a code, never an exception.
 */
import sharp, { type Metadata } from 'sharp';
import type { ResizeMode } from '../config.ts';
import type { Failure } from '../failures.ts';

// Lambda and workers decode a stream of different images: libvips' operation cache would only grow.
sharp.cache(false);

export interface PreprocessOptions {
  /** Side of the square output, in pixels. */
  size: number;
  resize: ResizeMode;
  /** Refused from the header, before any pixel is decoded. */
  maxPixels: number;
}

export type PreprocessResult =
  | { ok: true; pixels: Uint8Array; width: number; height: number; format: string }
  | { ok: false; failure: Failure };

/** Raster formats accepted; sharp also renders SVG and PDF, which are not photographs. */
const rasterFormats = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif', 'avif', 'jp2k', 'jxl']);

/** The kernel the reference inputs were made with (sharp's default), named so metadata can record it. */
export const resizeKernel = 'lanczos3';

export async function preprocessImage(bytes: Uint8Array, options: PreprocessOptions): Promise<PreprocessResult> {
  if (bytes.byteLength === 0) return failed('EMPTY', 'the object has 0 bytes');

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

  try {
    let pipeline = sharp(bytes, { failOn: 'error', limitInputPixels: options.maxPixels, sequentialRead: true }).rotate();
    if (options.resize === 'center-crop') {
      const oriented = metadata.autoOrient ?? { width, height: frameHeight };
      const side = Math.min(oriented.width, oriented.height);
      pipeline = pipeline.extract({
        left: Math.floor((oriented.width - side) / 2),
        top: Math.floor((oriented.height - side) / 2),
        width: side,
        height: side,
      });
    }
    const { data, info } = await pipeline
      .toColourspace('srgb')
      .removeAlpha()
      .resize(options.size, options.size, { fit: 'fill', kernel: resizeKernel })
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.width !== options.size || info.height !== options.size || info.channels !== 3) {
      return failed('CORRUPT', `decoded to ${info.width}x${info.height}x${info.channels}, expected ${options.size}x${options.size}x3`);
    }
    return { ok: true, pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height, format };
  } catch (error) {
    return classifyDecodeError(error, metadata);
  }
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
