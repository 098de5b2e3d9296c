/**
 * Small inline thumbnails for the report: a few kilobytes of JPEG each, embedded as data: URIs, so the page still
 * fetches nothing. Made with sharp from the images themselves, read where the dataset says they are.
 *
 * Best effort: a function without sharp's native library, or without read access to the input, gets no
 * thumbnails, and the page says why once; an image that cannot be read or decoded simply has none.
 */
import pMap from 'p-map';
import { FeaturizeError } from '../shared/errors.ts';
import { openObjectUri } from '../shared/storage/open-storage.ts';

/** Side of the box a thumbnail fits in, in pixels: 64×64 at JPEG quality 60 is 1–3 KB. */
const side = 64;
const readConcurrency = 8;

export interface Thumbnails {
  /** data: URI per path that has one. */
  byPath: Record<string, string>;
  /** Why there are none, when that is true of every image. */
  unavailable?: string;
}

export async function makeThumbnails(paths: readonly string[]): Promise<Thumbnails> {
  const unique = [...new Set(paths)];
  if (unique.length === 0) return { byPath: {} };
  let sharp: typeof import('sharp').default;
  try {
    sharp = (await import('sharp')).default;
  } catch (error) {
    return { byPath: {}, unavailable: `sharp cannot load here (${firstLine(error)})` };
  }
  const reasons: string[] = [];
  const made = await pMap(
    unique,
    async (path) => {
      try {
        const { storage, key } = openObjectUri(path);
        const bytes = await storage.read(key);
        const jpeg = await sharp(bytes, { failOn: 'none', limitInputPixels: 100_000_000 })
          .rotate()
          .resize(side, side, { fit: 'inside' })
          .jpeg({ quality: 60 })
          .toBuffer();
        return [path, `data:image/jpeg;base64,${jpeg.toString('base64')}`] as const;
      } catch (error) {
        if (error instanceof FeaturizeError) reasons.push(`${path}: ${firstLine(error)}`);
        return undefined;
      }
    },
    { concurrency: readConcurrency },
  );
  const byPath = Object.fromEntries(made.filter((entry) => entry !== undefined));
  if (Object.keys(byPath).length > 0 || reasons.length === 0) return { byPath };
  return { byPath, unavailable: `the images could not be read (${reasons[0]})` };
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0]!;
}
