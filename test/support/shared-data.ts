/** The read-only data the tests use: ../shared (or FEATURIZE_SHARED_DIR), never copied into the repo. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultImagesDir, defaultModelDir, sharedDir } from '../../functions/shared/config.ts';

export const imagesDir = defaultImagesDir();
export const modelDir = defaultModelDir();
export const referenceDir = join(sharedDir(), 'reference');
export const edgeCasesDir = join(imagesDir, 'edge-cases');
export const sampleDir = join(imagesDir, 'fruits-360-sample');

export interface ReferenceCase {
  id: string;
  source: string;
  pixels: Uint8Array;
  features: number[];
  /** 0-based ImageNet class ids (model output index - 1) and probabilities. */
  top5: { imagenet: number; p: number }[];
}

export async function referenceCases(): Promise<ReferenceCase[]> {
  const expected = JSON.parse(await readFile(join(referenceDir, 'expected.json'), 'utf8')) as Record<
    string,
    Pick<ReferenceCase, 'source' | 'features' | 'top5'>
  >;
  return Promise.all(
    Object.entries(expected)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(async ([id, { source, features, top5 }]) => ({
        id,
        source: join(imagesDir, source),
        pixels: await readFile(join(referenceDir, 'inputs', `${id}.rgb`)),
        features,
        top5,
      })),
  );
}

/** The first `perClass` files (by name) of the first `classes` folders of the sample: `Label/file.jpg` keys. */
export async function sampleKeys(classes: number, perClass: number): Promise<string[]> {
  const labels = (await readdir(sampleDir)).sort().slice(0, classes);
  const keys: string[] = [];
  for (const label of labels) {
    const files = (await readdir(join(sampleDir, label))).sort().slice(0, perClass);
    keys.push(...files.map((file) => `${label}/${file}`));
  }
  return keys;
}

export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}
