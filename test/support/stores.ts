/**
 * The places a test file stores things: a temporary folder and a fauxqs S3 server with its buckets, made before
 * the file's tests run and removed after them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { type LocalS3, startLocalS3 } from './s3-server.ts';

export interface TestStores {
  /** Available once the file's tests run (beforeAll). */
  readonly s3: LocalS3;
  /** A fresh temporary folder, removed after the file's tests. */
  readonly dir: string;
}

export function useTestStores(name: string, buckets: readonly string[]): TestStores {
  const stores = {} as { s3: LocalS3; dir: string };
  beforeAll(async () => {
    stores.s3 = await startLocalS3();
    for (const bucket of buckets) await stores.s3.createBucket(bucket);
    stores.dir = await mkdtemp(join(tmpdir(), `${name}-`));
  });
  afterAll(async () => {
    await stores.s3?.stop();
    if (stores.dir) await rm(stores.dir, { recursive: true, force: true });
  });
  return stores;
}
