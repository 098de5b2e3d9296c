/**
 * What the smoke test uploads: images under awkward keys (a space, `+`, `%`, a literal percent sequence, non-ASCII),
 * a truncated JPEG, an S3 folder marker, and plain images. All made here with sharp, so that the test needs no data
 * of its own. The plain images keep the one corrupt image within the deployment's default tolerated failures (5 %)
 * however failures are counted, so that "the run succeeded" is a check of the pipeline, not of that setting.
 */
import sharp from 'sharp';

/** What a user must see of an uploaded object once a run has processed it. */
export type Expected = 'row' | 'CORRUPT' | 'skipped';

export interface SmokeObject {
  /** Relative to the smoke folder (`<input prefix>smoke-<stamp>/`): `<label>/<file>`, or `<label>/` for a marker. */
  key: string;
  body: Uint8Array;
  expected: Expected;
}

export const plainImages = 40;

/** A distinct 96x96 JPEG per seed: a gradient the seed shifts (MobileNetV2 gives every image a non-zero vector). */
async function jpeg(seed: number): Promise<Buffer> {
  const side = 96;
  const pixels = Buffer.alloc(side * side * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * (seed + 7) + (i >> 8) * 13) % 256;
  return sharp(pixels, { raw: { width: side, height: side, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

export async function smokeObjects(): Promise<SmokeObject[]> {
  const awkward = ['Apple Red/red flower.jpg', 'Lemon/c++ lemon+1.jpg', 'Pear/100% pear.jpg', 'Pear/50%2B off.jpg', 'Kiwi/kiwï 猕猴桃.jpg'];
  const objects: SmokeObject[] = [];
  for (const [i, key] of awkward.entries()) objects.push({ key, body: await jpeg(i), expected: 'row' });
  for (let i = 1; i <= plainImages; i++) {
    objects.push({ key: `Plain/plain-${String(i).padStart(2, '0')}.jpg`, body: await jpeg(100 + i), expected: 'row' });
  }
  const whole = await jpeg(99);
  // Cut at half: libvips reports a premature end of the JPEG data.
  objects.push({ key: 'Kiwi/broken.jpg', body: whole.subarray(0, Math.floor(whole.length / 2)), expected: 'CORRUPT' });
  // What the S3 console's "Create folder" writes.
  objects.push({ key: 'Kiwi/', body: new Uint8Array(0), expected: 'skipped' });
  return objects;
}
