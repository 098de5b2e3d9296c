/**
 * The real S3 protocol, in-process: a fauxqs server on a free port, with the SDK pointed at it through the
 * same environment variables a user sets for MinIO (AWS_ENDPOINT_URL_S3 and credentials).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startFauxqs } from 'fauxqs';
import { s3Client } from '../../functions/shared/storage/s3-client.ts';

export interface LocalS3 {
  endpoint: string;
  client: S3Client;
  createBucket(name: string): Promise<void>;
  /** Uploads `keys` (relative to `dir`) under `prefix`. */
  upload(bucket: string, dir: string, keys: readonly string[], prefix?: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startLocalS3(): Promise<LocalS3> {
  const server = await startFauxqs({ port: 0, logger: false });
  const endpoint = server.address;
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: 'us-east-1',
  });
  const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1' });
  return {
    endpoint,
    client,
    createBucket: async (name) => {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    upload: async (bucket, dir, keys, prefix = '') => {
      for (const key of keys) {
        const body = await readFile(join(dir, key));
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}${key}`, Body: body }));
      }
    },
    stop: async () => {
      client.destroy();
      await server.stop();
    },
  };
}

/**
 * The x-amz-tagging header of every PUT the project's shared S3 client sends while `during` runs, by request
 * path (`/bucket/key`, decoded): what a lifecycle rule filtering on tags would see of each object written.
 */
export async function tagsOfPuts(during: () => Promise<unknown>): Promise<Map<string, string | undefined>> {
  const tagged = new Map<string, string | undefined>();
  s3Client().middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { method: string; path: string; headers: Record<string, string> };
      if (request.method === 'PUT') tagged.set(decodeURIComponent(request.path), request.headers['x-amz-tagging']);
      return next(args);
    },
    { step: 'finalizeRequest', name: 'recordTagging' },
  );
  try {
    await during();
    return tagged;
  } finally {
    s3Client().middlewareStack.remove('recordTagging');
  }
}
