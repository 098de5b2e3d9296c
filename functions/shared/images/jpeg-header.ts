/**
 * What a JPEG's markers say before its scan: its frame's size, sample precision and components, and whether it has
 * an APP1 segment (EXIF, which may turn it). Read in JavaScript from the bytes already in memory, at no cost next to a decode, to
 * choose how to decode; libvips still decodes it and has the last word on whether it is valid.
 */

export interface JpegFrame {
  width: number;
  height: number;
  /** Bits per sample: 8 nearly always (12-bit JPEGs exist). */
  precision: number;
  /** 1 (grey), 3 (YCbCr or RGB) or 4 (CMYK or YCCK). */
  components: number;
  /** An APP1 segment (EXIF, XMP): metadata that may carry an orientation libvips would apply. */
  app1: boolean;
}

/** Start-of-frame markers: every SOFn but DHT (C4), JPG (C8) and DAC (CC), which share the range. */
const startOfFrame = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);
const startOfScan = 0xda;

/** The frame of a JPEG whose markers read cleanly up to its first scan; undefined for anything else. */
export function readJpegFrame(bytes: Uint8Array): JpegFrame | undefined {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let frame: Omit<JpegFrame, 'app1'> | undefined;
  let app1 = false;
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1]!;
    // Fill bytes: any number of 0xFF before a marker.
    if (marker === 0xff) {
      at++;
      continue;
    }
    if (marker === startOfScan) return frame && { ...frame, app1 };
    // Markers without a length: TEM and the restart markers.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    if (length < 2 || at + 2 + length > bytes.length) return undefined;
    const segment = at + 4;
    if (startOfFrame.has(marker)) {
      // A second frame header is not a JPEG libjpeg would read as one image.
      if (frame || length < 8) return undefined;
      frame = {
        precision: bytes[segment]!,
        height: (bytes[segment + 1]! << 8) | bytes[segment + 2]!,
        width: (bytes[segment + 3]! << 8) | bytes[segment + 4]!,
        components: bytes[segment + 5]!,
      };
    } else if (marker === 0xe1) {
      app1 = true;
    }
    at += 2 + length;
  }
  return undefined;
}
