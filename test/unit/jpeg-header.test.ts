import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJpegFrame } from '../../functions/shared/images/jpeg-header.ts';
import { edgeCasesDir, sampleDir } from '../support/shared-data.ts';

const edgeCase = (name: string) => readFile(join(edgeCasesDir, name));

describe('readJpegFrame', () => {
  it('reads a Fruits-360 image: 100×100, three 8-bit components, no APP1', async () => {
    expect(readJpegFrame(await readFile(join(sampleDir, 'Braeburn', '3_100.jpg')))).toEqual({
      width: 100,
      height: 100,
      precision: 8,
      components: 3,
      app1: false,
    });
  });

  it('sees EXIF, greyscale, CMYK and a progressive frame', async () => {
    expect(readJpegFrame(await edgeCase('made_fruit_exif_orientation6.jpg'))).toMatchObject({ app1: true });
    expect(readJpegFrame(await edgeCase('made_fruit_grayscale.jpg'))).toMatchObject({ components: 1, app1: false });
    expect(readJpegFrame(await edgeCase('made_fruit_cmyk.jpg'))).toMatchObject({ components: 4 });
    expect(readJpegFrame(await edgeCase('made_fruit_progressive.jpg'))).toMatchObject({ width: 100, height: 100 });
  });

  it('gives nothing for what is not a JPEG whose markers read cleanly up to its scan', async () => {
    for (const name of [
      'made_fruit_rgba.png',
      'made_soi_only_4_bytes.jpg',
      'junk_before_soi.jpg',
      'made_text_file.jpg',
      'corrupt_header.jpg',
    ]) {
      expect(readJpegFrame(await edgeCase(name)), name).toBeUndefined();
    }
    expect(readJpegFrame(new Uint8Array(0))).toBeUndefined();
  });
});
