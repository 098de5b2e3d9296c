import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { describe, expect, it, vi } from 'vitest';
import { enlargeBicubic } from '../../functions/shared/images/bicubic-enlarge.ts';
import { checkedPreprocess, type PreprocessOptions, preprocessImage } from '../../functions/shared/images/preprocess-image.ts';
import { edgeCasesDir, maxAbsDifference, referenceCases, sampleDir } from '../support/shared-data.ts';

// The real enlargement, watched: a test below counts the images that took it.
vi.mock('../../functions/shared/images/bicubic-enlarge.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../functions/shared/images/bicubic-enlarge.ts')>();
  return { ...original, enlargeBicubic: vi.fn(original.enlargeBicubic) };
});

const squash: PreprocessOptions = { size: 224, resize: 'squash', maxPixels: 100_000_000 };
const crop: PreprocessOptions = { ...squash, resize: 'center-crop' };
const edgeCase = (name: string) => readFile(join(edgeCasesDir, name));

async function pixelsOf(bytes: Uint8Array, options = squash): Promise<Uint8Array> {
  const result = await preprocessImage(bytes, options);
  if (!result.ok) throw new Error(`${result.failure.code}: ${result.failure.message}`);
  return result.pixels;
}

describe('preprocessImage', () => {
  it('reproduces the reference inputs from their source images (same decode, orientation, resize)', async () => {
    for (const reference of await referenceCases()) {
      const pixels = await pixelsOf(await readFile(reference.source));
      expect(pixels, reference.id).toHaveLength(224 * 224 * 3);
      expect(maxAbsDifference(pixels, reference.pixels), reference.id).toBeLessThanOrEqual(1);
    }
  });

  it('gives every edge case and a sample image the same pixels, or the same failure, as the path that reads the header first', async () => {
    const names = (await readdir(edgeCasesDir)).filter((name) => name !== 'made_zero_bytes.jpg');
    const inputs: [string, Buffer][] = [['sample', await readFile(join(sampleDir, 'Braeburn', '3_100.jpg'))]];
    for (const name of names) inputs.push([name, await edgeCase(name)]);
    let decoded = 0;
    for (const [name, bytes] of inputs) {
      const checked = await checkedPreprocess(bytes, squash);
      expect(await preprocessImage(bytes, squash), name).toEqual(checked);
      if (checked.ok) decoded++;
    }
    // The sample and the 54 edge cases that give a vector (README, Extraction).
    expect(decoded).toBe(55);
  });

  it("gives sharp's own resize byte for byte for every sample image and edge case, small JPEGs enlarged outside sharp", async () => {
    const inputs: [string, Buffer][] = [];
    for (const label of await readdir(sampleDir)) {
      for (const name of await readdir(join(sampleDir, label)))
        inputs.push([`${label}/${name}`, await readFile(join(sampleDir, label, name))]);
    }
    for (const name of await readdir(edgeCasesDir)) inputs.push([name, await edgeCase(name)]);
    let compared = 0;
    vi.mocked(enlargeBicubic).mockClear();
    for (const [name, bytes] of inputs) {
      const result = await preprocessImage(bytes, squash);
      if (!result.ok) continue;
      // sharp alone, as the extraction did before (and still does for any other image).
      const expected = await sharp(bytes, { failOn: 'error', sequentialRead: true })
        .rotate()
        .toColourspace('srgb')
        .removeAlpha()
        .resize(224, 224, { fit: 'fill', kernel: 'lanczos3' })
        .raw({ depth: 'uchar' })
        .toBuffer();
      expect(Buffer.compare(Buffer.from(result.pixels), expected), name).toBe(0);
      compared++;
    }
    expect(compared).toBe(954);
    // The 900 sample images and the edge cases' 8 small plain JPEGs (grey, progressive, 1×1...) took the enlargement
    // outside sharp; the other 46 took sharp's resize.
    expect(vi.mocked(enlargeBicubic)).toHaveBeenCalledTimes(908);
  });

  it.runIf(process.arch === 'x64')(
    "takes sharp's resize, with the same pixels, on a CPU that cannot run WebAssembly SIMD (V8 without SSE4.1)",
    async () => {
      const image = join(sampleDir, 'Braeburn', '3_100.jpg');
      const module = new URL('../../functions/shared/images/preprocess-image.ts', import.meta.url).href;
      const enlargement = new URL('../../functions/shared/images/bicubic-enlarge.ts', import.meta.url).href;
      const script = [
        `import { readFileSync } from 'node:fs';`,
        `import { preprocessImage } from '${module}';`,
        `import { enlargementAvailable } from '${enlargement}';`,
        `const result = await preprocessImage(readFileSync(${JSON.stringify(image)}), ${JSON.stringify(squash)});`,
        `console.log(JSON.stringify({ enlargementAvailable, pixels: Buffer.from(result.pixels).toString('base64') }));`,
      ].join('\n');
      const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--no-enable-sse4-1', '--input-type=module', '-e', script], {
        maxBuffer: 16 << 20,
      });
      // The worker or container says why its small images cost more, once, in its logs.
      expect(`${stdout}${stderr}`).toContain('this CPU cannot run WebAssembly SIMD');
      const child = JSON.parse(stdout.trim().split('\n').at(-1)!) as { enlargementAvailable: boolean; pixels: string };
      expect(child.enlargementAvailable).toBe(false);
      expect(Buffer.compare(Buffer.from(child.pixels, 'base64'), Buffer.from(await pixelsOf(await readFile(image))))).toBe(0);
    },
  );

  it('applies EXIF orientation: an Orientation=6 copy equals the original turned 90° clockwise', async () => {
    const original = await readFile(join(sampleDir, 'Braeburn', '3_100.jpg'));
    const turned = await sharp(original).rotate(90).jpeg({ quality: 100 }).toBuffer();
    const tagged = await pixelsOf(await edgeCase('made_fruit_exif_orientation6.jpg'));
    const expected = await pixelsOf(turned);
    expect(meanAbsDifference(tagged, expected)).toBeLessThan(4);
    const untagged = await pixelsOf(original);
    expect(meanAbsDifference(tagged, untagged)).toBeGreaterThan(10);
  });

  it('converts CMYK, greyscale and 16-bit inputs to 8-bit sRGB with three channels', async () => {
    const original = await pixelsOf(await readFile(join(sampleDir, 'Braeburn', '3_100.jpg')));
    for (const name of ['made_fruit_cmyk.jpg', 'made_fruit_rgb16.png', 'made_fruit_lzw.tiff', 'made_fruit.webp']) {
      expect(meanAbsDifference(await pixelsOf(await edgeCase(name)), original), name).toBeLessThan(12);
    }
    const grey = await pixelsOf(await edgeCase('made_fruit_gray16.png'));
    for (let i = 0; i < grey.length; i += 3) {
      expect(grey[i]).toBe(grey[i + 1]);
      expect(grey[i + 1]).toBe(grey[i + 2]);
    }
  });

  it('center-crop keeps the middle square; squash keeps the whole frame', async () => {
    // A 300x100 image: red | green | blue thirds. The centre crop is all green.
    const stripes = await sharp({ create: { width: 300, height: 100, channels: 3, background: '#000' } })
      .composite([
        { input: { create: { width: 100, height: 100, channels: 3, background: '#f00' } }, left: 0, top: 0 },
        { input: { create: { width: 100, height: 100, channels: 3, background: '#0f0' } }, left: 100, top: 0 },
        { input: { create: { width: 100, height: 100, channels: 3, background: '#00f' } }, left: 200, top: 0 },
      ])
      .png()
      .toBuffer();
    const cropped = await pixelsOf(stripes, crop);
    expect([cropped[0], cropped[1], cropped[2]]).toEqual([0, 255, 0]);
    const squashed = await pixelsOf(stripes, squash);
    expect([squashed[0], squashed[1], squashed[2]]).toEqual([255, 0, 0]);
  });

  it('center-crops a 3000x1 strip and a rotated photo without failing', async () => {
    expect(await pixelsOf(await edgeCase('made_extreme_aspect_3000x1.jpg'), crop)).toHaveLength(224 * 224 * 3);
    expect(await pixelsOf(await edgeCase('exif_orientation6_portrait.jpg'), crop)).toHaveLength(224 * 224 * 3);
  });

  it.each([
    ['made_zero_bytes.jpg', 'EMPTY'],
    ['made_text_file.jpg', 'UNSUPPORTED_FORMAT'],
    ['svg_check.svg', 'UNSUPPORTED_FORMAT'],
    ['made_fruit.bmp', 'UNSUPPORTED_FORMAT'],
    ['heic_iphone13promax.HEIC', 'UNSUPPORTED_FORMAT'],
    ['made_fruit_truncated_half.jpg', 'CORRUPT'],
    ['truncated_first_10000_bytes.jpg', 'CORRUPT'],
    ['made_soi_only_4_bytes.jpg', 'CORRUPT'],
    ['gif_decompression_bomb.gif', 'CORRUPT'],
    ['huge_20000x14000_gray.jpg', 'TOO_LARGE'],
    ['huge_65536x65536_1bit.png', 'TOO_LARGE'],
  ])('%s fails with %s and a message', async (name, code) => {
    const result = await preprocessImage(await edgeCase(name), squash);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.failure.code).toBe(code);
      expect(result.failure.message.length).toBeGreaterThan(5);
    }
  });

  it('names the dimensions and the limit when it refuses a huge image', async () => {
    const result = await preprocessImage(await edgeCase('huge_20000x14000_gray.jpg'), squash);
    expect(result).toMatchObject({ ok: false, failure: { message: '20000x14000 is 280 MP, over the 100 MP limit' } });
  });

  it('follows the configured pixel limit', async () => {
    const photo = await edgeCase('made_progressive_photo_3264x2448.jpg');
    expect((await preprocessImage(photo, { ...squash, maxPixels: 8_000_000 })).ok).toBe(true);
    expect(await preprocessImage(photo, { ...squash, maxPixels: 7_000_000 })).toMatchObject({
      ok: false,
      failure: { code: 'TOO_LARGE' },
    });
  });
});

function meanAbsDifference(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] as number) - (b[i] as number));
  return sum / a.length;
}
