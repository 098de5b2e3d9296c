import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ManifestItem } from '../../functions/trigger/start-run.ts';
import fixture from '../events/upload-batch.json' with { type: 'json' };
import { type LocalS3, startLocalS3 } from '../support/s3-server.ts';
import { type LocalStepFunctions, startLocalStepFunctions } from '../support/sfn-server.ts';

const stateMachineArn = 'arn:aws:states:eu-west-1:111122223333:stateMachine:Featurize-featurize';
const context = { functionName: 'trigger', awsRequestId: 'test' } as Context;
const uploadedKeys = ['images/Apple Red 1/r_1 copy.jpg', 'images/Lemon/c++ lemon+1.jpg', 'images/Kiwi/kiwï ü 猕猴桃.jpg'];
const poisonMessageId = '6e8d4a3b-6f7a-4b8c-9d2e-3f4a5b6c7d8e';

let s3: LocalS3;
let sfn: LocalStepFunctions;
let invoke: (event: unknown) => Promise<SQSBatchResponse>;

beforeAll(async () => {
  s3 = await startLocalS3();
  sfn = await startLocalStepFunctions();
  await s3.createBucket('fruits');
  for (const key of uploadedKeys) await s3.client.send(new PutObjectCommand({ Bucket: 'fruits', Key: key, Body: key }));
  // The function's configuration, as the stack sets it; the SDK finds the local endpoint as it would a VPC one.
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_SFN: sfn.endpoint,
    FEATURIZE_STATE_MACHINE_ARN: stateMachineArn,
    FEATURIZE_INPUT_BUCKET: 'fruits',
    FEATURIZE_INPUT_PREFIX: 'images/',
    FEATURIZE_OUTPUT_BUCKET: 'fruits',
    FEATURIZE_OUTPUT_PREFIX: 'datasets/mobilenet-v2/',
  });
  const { handler } = await import('../../functions/trigger/handler.ts');
  invoke = (event) => handler(event as SQSEvent, context) as Promise<SQSBatchResponse>;
});
afterAll(async () => {
  await sfn.stop();
  await s3.stop();
});
beforeEach(() => {
  sfn.requests.length = 0;
  sfn.executions.clear();
  delete sfn.failStartExecution;
});

async function readManifest(bucket: string, key: string): Promise<ManifestItem[]> {
  const object = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse(await object.Body!.transformToString()) as ManifestItem[];
}

describe('trigger handler', () => {
  it('starts one execution over a manifest of the batch keys, deduplicated and exactly as uploaded', async () => {
    const response = await invoke(fixture);

    const starts = sfn.requests.filter((request) => request.action === 'StartExecution');
    expect(starts).toHaveLength(1);
    const start = starts[0]!.body as { stateMachineArn: string; name: string; input: string };
    expect(start.stateMachineArn).toBe(stateMachineArn);
    // Sortable by upload time, and named from the content: valid as an execution name and as a run id.
    expect(start.name).toMatch(/^upload-20261125T151040Z-[0-9a-f]{24}$/);
    const input = JSON.parse(start.input) as { manifest: { bucket: string; key: string } };
    expect(input).toEqual({ manifest: { bucket: 'fruits', key: `datasets/mobilenet-v2/manifests/${start.name}.json` } });

    const items = await readManifest(input.manifest.bucket, input.manifest.key);
    expect(items).toEqual([
      { Key: 'images/Apple Red 1/r_1 copy.jpg', Size: 4725, Etag: '0e2d7b5cbd8e4f7c0a5a6f4e1f2b3c4d' },
      { Key: 'images/Kiwi/kiwï ü 猕猴桃.jpg', Size: 5120, Etag: '9f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e' },
      { Key: 'images/Lemon/c++ lemon+1.jpg', Size: 4311, Etag: '5c1a2b3c4d5e6f708192a3b4c5d6e7f8' },
    ]);
    // The manifest's keys open the objects as uploaded: nothing was URL-decoded or re-encoded on the way.
    for (const { Key } of items) {
      const object = await s3.client.send(new GetObjectCommand({ Bucket: 'fruits', Key }));
      expect(await object.Body!.transformToString()).toBe(Key);
    }
    // The folder marker is skipped without failing; the direct S3 notification fails alone.
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: poisonMessageId }] });
  });

  it('treats a redelivered batch as started: ExecutionAlreadyExists after the run ended, no second execution', async () => {
    await invoke(fixture);
    const [first] = [...sfn.executions.values()];
    first!.status = 'SUCCEEDED';

    const redelivered = await invoke(fixture);
    expect(redelivered).toEqual({ batchItemFailures: [{ itemIdentifier: poisonMessageId }] });
    expect(sfn.requests.filter((request) => request.action === 'StartExecution')).toHaveLength(2);
    expect(sfn.executions.size).toBe(1);
  });

  it('names the same execution when the same uploads arrive in another order or twice', async () => {
    const [apple, lemon, kiwi] = fixture.Records;
    await invoke({ Records: [apple, lemon, kiwi] });
    await invoke({ Records: [kiwi, apple, lemon, apple] });
    const names = sfn.requests.filter((r) => r.action === 'StartExecution').map((r) => (r.body as { name: string }).name);
    expect(names).toHaveLength(2);
    expect(names[1]).toBe(names[0]);
    expect(sfn.executions.size).toBe(1);
  });

  it('starts nothing for a batch of folder markers only', async () => {
    const folderMarker = fixture.Records[4]!;
    expect(await invoke({ Records: [folderMarker] })).toEqual({ batchItemFailures: [] });
    expect(sfn.requests).toEqual([]);
  });

  it('fails the whole batch when the execution cannot start, so that SQS delivers it again', async () => {
    sfn.failStartExecution = { type: 'StateMachineDoesNotExist', message: 'State Machine Does Not Exist' };
    await expect(invoke(fixture)).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
  });

  it('refuses an event that is not an SQS batch, naming the problem', async () => {
    await expect(invoke({ detail: {} })).rejects.toMatchObject({ name: 'InvalidEventError', message: expect.stringContaining('Records') });
  });
});
