import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { enlargeBicubic } from '../../functions/shared/images/bicubic-enlarge.ts';
import { compileWat, embeddedModule } from '../../tools/wasm/compile-wat.ts';
import { wasmModules } from '../../tools/wasm/wasm-modules.ts';

const size = 224;

/** Noise: every byte value, and the overshoot past 0 and 255 that Catmull-Rom makes at sharp edges. */
function noise(width: number, height: number, seed: number, bands = 3): Uint8Array {
  const pixels = new Uint8Array(width * height * bands);
  let state = seed;
  for (let i = 0; i < pixels.length; i++) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    pixels[i] = state >>> 24;
  }
  return pixels;
}

async function sharpEnlarged(pixels: Uint8Array, width: number, height: number, bands: 1 | 3 = 3): Promise<Uint8Array> {
  const resized = sharp(pixels, { raw: { width, height, channels: bands } }).resize(size, size, { fit: 'fill', kernel: 'lanczos3' });
  // sharp writes a grey image as sRGB, its three bands alike: the first is the grey.
  const { data, info } = await (bands === 1 ? resized.extractChannel(0) : resized).raw().toBuffer({ resolveWithObject: true });
  expect([info.width, info.height, info.channels]).toEqual([size, size, bands]);
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

  it("gives sharp's own resize of a grey image, and sizes after smaller ones and larger ones", async () => {
    // One band per vector lane of four, and the instance's memory grown, then reused for smaller images.
    for (const [width, height, bands] of [
      [5, 3, 1],
      [224, 223, 1],
      [100, 100, 3],
      [1, 224, 1],
      [99, 7, 3],
    ] as const) {
      const pixels = noise(width, height, width + height, bands);
      expect(Buffer.compare(enlargeBicubic(pixels, width, height, bands, size), await sharpEnlarged(pixels, width, height, bands))).toBe(0);
    }
  });

  it('refuses an image larger than the square, bytes that are not its size, or more than three bands', () => {
    expect(() => enlargeBicubic(new Uint8Array(225 * 10 * 3), 225, 10, 3, size)).toThrow(RangeError);
    expect(() => enlargeBicubic(new Uint8Array(10), 10, 10, 3, size)).toThrow(RangeError);
    expect(() => enlargeBicubic(new Uint8Array(10 * 10 * 4), 10, 10, 4, size)).toThrow(RangeError);
  });

  it('runs the WebAssembly of bicubic-enlarge.wat as it stands (npm run build:wasm)', async () => {
    for (const { wat, embedded, exportName } of wasmModules) {
      const module = (await import(embedded)) as Record<string, Uint8Array>;
      const binary = await compileWat(wat);
      expect(Buffer.compare(module[exportName]!, binary), `${embedded} is stale: run npm run build:wasm`).toBe(0);
      // And the file as build:wasm writes it, so that running it leaves a clean checkout clean.
      expect(await readFile(embedded, 'utf8')).toBe(embeddedModule(basename(wat), exportName, binary));
    }
  });
});
