/**
 * The smoke test's logic (tools/smoke/), which users run against their own account with `npm run smoke:aws`, run
 * here against fauxqs, the real trigger function and the local runner (local-cloud.ts): the same scenario, the same
 * checks, on the same functions the Lambdas run.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failuresKey } from '../../functions/shared/run-layout.ts';
import { checkPath, runSmoke, type SmokeReport } from '../../tools/smoke/run-smoke.ts';
import { plainImages, smokeObjects } from '../../tools/smoke/smoke-objects.ts';
import { type LocalS3, startLocalS3 } from '../support/s3-server.ts';
import { type LocalStepFunctions, startLocalStepFunctions } from '../support/sfn-server.ts';
import { LocalSmokeCloud } from './local-cloud.ts';

let s3: LocalS3;
let sfn: LocalStepFunctions;
let cloud: LocalSmokeCloud;
let report: SmokeReport;
const log: string[] = [];

beforeAll(async () => {
  s3 = await startLocalS3();
  sfn = await startLocalStepFunctions();
  cloud = new LocalSmokeCloud(s3, sfn);
  report = await runSmoke(cloud, 'smoke-test', (line) => log.push(line));
}, 600_000);
afterAll(async () => {
  await cloud.teardown();
  await sfn.stop();
  await s3.stop();
});

describe('the smoke test, against fauxqs and the local runner', () => {
  it('uploads the awkward objects into a folder of its own under the input prefix, and says so', () => {
    expect(report.folder).toBe('images/smoke-test/');
    expect(log[0]).toBe(`uploading ${plainImages + 7} objects to s3://smoke/images/smoke-test/`);
  });

  it('passes the upload path: the trigger finds every key (sent form-encoded), skips the folder marker, and the run succeeds', () => {
    const upload = report.paths.find((path) => path.path === 'upload')!;
    expect(upload.runs).toEqual([{ runId: expect.stringMatching(/^upload-/), status: 'SUCCEEDED' }]);
    expect(upload.findings).toEqual([]);
  });

  it('runs the prefix path to success, the folder marker skipped (FOLDER_MARKER), and passes', () => {
    const prefix = report.paths.find((path) => path.path === 'prefix')!;
    expect(prefix.runs).toEqual([{ runId: 'smoke-prefix-1', status: 'SUCCEEDED' }]);
    expect(prefix.findings).toEqual([]);
    expect(report.passed).toBe(true);
  });

  it('finds what a user would: a missing row, a wrong failure code, a failed run, a dataset without vectors', async () => {
    const target = { input: { bucket: 'smoke', prefix: 'images/' }, output: { bucket: 'smoke', prefix: 'datasets/mobilenet-v2/' } };
    const objects = (await smokeObjects()).filter((object) => object.expected !== 'skipped');
    const extra = { key: 'Kiwi/never-processed.jpg', body: new Uint8Array(), expected: 'row' as const };
    const [upload] = report.paths;
    const findings = await checkPath(
      cloud.output(),
      target,
      'images/smoke-test/',
      [...objects, extra],
      [...upload!.runs, { runId: 'broken-run', status: 'FAILED', error: { error: 'ValidationFailed', cause: 'accounting' } }],
    );
    expect(findings).toEqual([
      'run broken-run ended FAILED: ValidationFailed: accounting',
      's3://smoke/images/smoke-test/Kiwi/never-processed.jpg: 0 rows, expected 1',
      'featurize inspect counts 1 row(s) of "Kiwi", expected at least 2',
    ]);
    // The truncated JPEG recorded under another code.
    const run = upload!.runs[0]!.runId;
    const failures = await cloud.output().read(failuresKey(run));
    await s3.client.send(
      new PutObjectCommand({
        Bucket: 'smoke',
        Key: `datasets/mobilenet-v2/${failuresKey(run)}`,
        Body: new TextDecoder().decode(failures).replace('"CORRUPT"', '"EMPTY"'),
      }),
    );
    expect(await checkPath(cloud.output(), target, 'images/smoke-test/', objects, upload!.runs)).toEqual([
      's3://smoke/images/smoke-test/Kiwi/broken.jpg: a truncated JPEG recorded as EMPTY, expected CORRUPT',
    ]);
    await s3.client.send(new PutObjectCommand({ Bucket: 'smoke', Key: `datasets/mobilenet-v2/${failuresKey(run)}`, Body: failures }));
    // Nothing under features/: what `featurize inspect` says.
    const empty = { ...target, output: { bucket: 'smoke', prefix: 'nowhere/' } };
    const { S3Storage } = await import('../../functions/shared/storage/s3-storage.ts');
    expect(await checkPath(new S3Storage('smoke', 'nowhere/'), empty, 'images/smoke-test/', objects, upload!.runs)).toEqual([
      'featurize inspect finds no dataset: no Parquet parts under s3://smoke/nowhere/features/',
    ]);
  });
});
