/**
 * S3Storage.remove against DeleteObjects' per-key errors. No S3 implementation that runs here answers with one
 * (fauxqs's deleteObjects.js and s3rver delete every key they are given and list no <Error>), so the meaning of the
 * errors is tested on the answer's documented shape, and remove() itself against fauxqs on the paths it can reach.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeDeleteFailures, sortDeleteFailures } from '../../functions/shared/storage/delete-failures.ts';
import { S3Storage } from '../../functions/shared/storage/s3-storage.ts';
import { type LocalS3, startLocalS3 } from '../support/s3-server.ts';

const refusals = new Set(['NoSuchKey', 'NotFound', 'AccessDenied', 'InvalidObjectState', 'KMS.DisabledException']);

describe('DeleteObjects per-key errors', () => {
  it('retries transient and unknown codes, refuses AccessDenied-like ones, and counts an absent key as deleted', () => {
    const errors = [
      { Key: 'root/features/a.parquet', Code: 'InternalError', Message: 'We encountered an internal error. Please try again.' },
      { Key: 'root/features/b.parquet', Code: 'SlowDown', Message: 'Please reduce your request rate.' },
      { Key: 'root/features/c.parquet', Code: 'AccessDenied', Message: 'Access Denied' },
      { Key: 'root/features/d.parquet', Code: 'NoSuchKey', Message: 'The specified key does not exist.' },
      { Key: 'root/features/e.parquet', Code: 'SomethingNew' },
    ];
    expect(sortDeleteFailures(errors, 'root/', refusals)).toEqual({
      retry: [
        { key: 'features/a.parquet', code: 'InternalError', message: 'We encountered an internal error. Please try again.' },
        { key: 'features/b.parquet', code: 'SlowDown', message: 'Please reduce your request rate.' },
        { key: 'features/e.parquet', code: 'SomethingNew', message: '' },
      ],
      refused: [{ key: 'features/c.parquet', code: 'AccessDenied', message: 'Access Denied' }],
    });
  });

  it('names the failed objects, a few of them, and how many more', () => {
    const failures = Array.from({ length: 7 }, (_, i) => ({ key: `p/${i}.parquet`, code: 'InternalError', message: '' }));
    expect(describeDeleteFailures(failures.slice(0, 1), (key) => `s3://b/${key}`)).toBe('s3://b/p/0.parquet (InternalError)');
    const message = describeDeleteFailures(failures, (key) => `s3://b/${key}`);
    expect(message).toContain('s3://b/p/4.parquet (InternalError)');
    expect(message).not.toContain('p/5.parquet');
    expect(message).toMatch(/; and 2 more$/);
  });
});

describe('S3Storage.remove against fauxqs', () => {
  let s3: LocalS3;
  beforeAll(async () => {
    s3 = await startLocalS3();
    await s3.createBucket('deletes');
  });
  afterAll(() => s3.stop());

  it('deletes more keys than one request takes, in quiet mode, ignoring absent ones', async () => {
    const keys = Array.from({ length: 1001 }, (_, i) => `parts/${String(i).padStart(4, '0')}.parquet`);
    for (const key of keys) await s3.client.send(new PutObjectCommand({ Bucket: 'deletes', Key: `root/${key}`, Body: key }));
    const storage = new S3Storage('deletes', 'root');
    await storage.remove([...keys, 'parts/never-written.parquet']);
    const left = [];
    for await (const object of storage.list()) left.push(object.key);
    expect(left).toEqual([]);
  });
});
