import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { enlargeBicubic } from '../../functions/shared/images/bicubic-enlarge.ts';

const size = 224;

/** Noise: every byte value, and the overshoot past 0 and 255 that Catmull-Rom makes at sharp edges. */
function noise(width: number, height: number, seed: number): Uint8Array {
  const pixels = new Uint8Array(width * height * 3);
  let state = seed;
  for (let i = 0; i < pixels.length; i++) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    pixels[i] = state >>> 24;
  }
  return pixels;
}

async function sharpEnlarged(pixels: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  const { data, info } = await sharp(pixels, { raw: { width, height, channels: 3 } })
    .resize(size, size, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  expect([info.width, info.height, info.channels]).toEqual([size, size, 3]);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

describe('enlargeBicubic', () => {
  // Every width and every height up to the square, the other side fixed, and a few of both: each side's scale
  // changes the other's step (libvips inverts the transform as a matrix), and the positions' rounding differs
  // from one scale to the next.
  const sides = Array.from({ length: size }, (_, i) => i + 1);
  const shapes = [
    ...sides.map((width) => [width, 100] as const),
    ...sides.map((height) => [100, height] as const),
    ...[1, 2, 3, 7, 50, 99, 101, 150, 223, 224].flatMap((width) => [1, 13, 224].map((height) => [width, height] as const)),
  ];

  it(`gives sharp's own resize byte for byte, for ${shapes.length} sizes from 1×1 to ${size}×${size}`, async () => {
    const mismatched: string[] = [];
    for (const [width, height] of shapes) {
      const pixels = noise(width, height, width * 1_000 + height);
      const expected = await sharpEnlarged(pixels, width, height);
      if (Buffer.compare(enlargeBicubic(pixels, width, height, 3, size), expected) !== 0) mismatched.push(`${width}x${height}`);
    }
    // A sharp bundling another libvips may enlarge differently (libvips' main branch changed the centre offset after
    // 8.18): bicubic-enlarge.ts must follow it, or the extraction must go back to sharp's resize for these images.
    expect(mismatched, 'sizes where the enlargement differs from this sharp').toEqual([]);
  });

  it('refuses an image larger than the square, or bytes that are not its size', () => {
    expect(() => enlargeBicubic(new Uint8Array(225 * 10 * 3), 225, 10, 3, size)).toThrow(RangeError);
    expect(() => enlargeBicubic(new Uint8Array(10), 10, 10, 3, size)).toThrow(RangeError);
  });
});
