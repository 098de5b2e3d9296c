import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ManifestItem } from '../../functions/trigger/start-run.ts';
import fixture from '../events/upload-batch.json' with { type: 'json' };
import { type LocalS3, startLocalS3 } from '../support/s3-server.ts';
import { type LocalStepFunctions, startLocalStepFunctions } from '../support/sfn-server.ts';
import { formEncoded, objectCreatedRecord, percentEncoded } from '../support/upload-events.ts';

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

/** One SQS record carrying S3's EventBridge "Object Created" event for `key`, spelled as given. */
const uploadRecord = (key: string, etag: string, size: number, id: string) =>
  objectCreatedRecord({ bucket: 'fruits', key, etag, size, id, time: new Date('2026-11-25T16:00:00Z') });

async function put(key: string, body: string): Promise<{ etag: string; size: number }> {
  const { ETag } = await s3.client.send(new PutObjectCommand({ Bucket: 'fruits', Key: key, Body: body }));
  return { etag: ETag!.replaceAll('"', ''), size: Buffer.byteLength(body) };
}

async function manifestKeys(bucket: string): Promise<string[]> {
  const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'datasets/mobilenet-v2/manifests/' }));
  return (listed.Contents ?? []).map((object) => object.Key!);
}

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

  it('starts nothing, and writes no manifest, for a batch of folder markers and hidden files only', async () => {
    const before = await manifestKeys('fruits');
    const folderMarker = fixture.Records[4]!;
    const hidden = uploadRecord('images/Kiwi/.DS_Store', 'd41d8cd98f00b204e9800998ecf8427e', 6148, 'hidden-1');
    const hiddenFolder = uploadRecord('images/.thumbnails/Kiwi/k1.jpg', 'd41d8cd98f00b204e9800998ecf8427e', 512, 'hidden-2');
    expect(await invoke({ Records: [folderMarker, hidden, hiddenFolder] })).toEqual({ batchItemFailures: [] });
    expect(sfn.requests).toEqual([]);
    expect(await manifestKeys('fruits')).toEqual(before);
  });

  it("finds each upload's object whether the event spells its key as uploaded, form-encoded or percent-encoded", async () => {
    // A space, `+`, `%`, non-ASCII, a literal percent sequence, and two keys that are each other's encoding.
    const keys = [
      'images/Apple Red/red flower.jpg',
      'images/Lemon/c++ lemon+2.jpg',
      'images/Pear/100% pear.jpg',
      'images/Pear/50%2B off.jpg',
      'images/Kiwi/kiwï ü 猕猴桃 2.jpg',
      'images/Fig/a+b.jpg',
      'images/Fig/a b.jpg',
    ];
    const objects = new Map<string, { etag: string; size: number }>();
    for (const key of keys) objects.set(key, await put(key, `bytes of ${key}`));

    for (const [spelling, encode] of [
      ['as uploaded', (key: string) => key],
      ['form-encoded', formEncoded],
      ['percent-encoded', percentEncoded],
    ] as const) {
      sfn.requests.length = 0;
      const records = keys.map((key, i) => {
        const { etag, size } = objects.get(key)!;
        return uploadRecord(encode(key), etag, size, `${spelling}-${i}`);
      });
      expect(await invoke({ Records: records }), spelling).toEqual({ batchItemFailures: [] });
      const start = sfn.requests.find((request) => request.action === 'StartExecution')!.body as { input: string };
      const { manifest } = JSON.parse(start.input) as { manifest: { bucket: string; key: string } };
      const items = await readManifest(manifest.bucket, manifest.key);
      // Every object exactly once, under its own key; the event's spelling recorded where it had to be decoded.
      expect(items.map((item) => item.Key).sort(), spelling).toEqual([...keys].sort());
      for (const item of items) {
        const sent = encode(item.Key);
        expect(item.EventKey, `${spelling}: ${item.Key}`).toBe(sent === item.Key ? undefined : sent);
        expect(item.Etag).toBe(objects.get(item.Key)!.etag);
      }
    }
  });

  it('keeps an upload deleted since its event under the key as given, so that the run records it', async () => {
    const response = await invoke({ Records: [uploadRecord('images/Kiwi/gone+soon.jpg', 'e', 3, 'gone-1')] });
    expect(response).toEqual({ batchItemFailures: [] });
    const start = sfn.requests.find((request) => request.action === 'StartExecution')!.body as { input: string };
    const { manifest } = JSON.parse(start.input) as { manifest: { bucket: string; key: string } };
    expect(await readManifest(manifest.bucket, manifest.key)).toEqual([{ Key: 'images/Kiwi/gone+soon.jpg', Size: 3, Etag: 'e' }]);
  });

  it('fails the whole batch when the execution cannot start, so that SQS delivers it again', async () => {
    sfn.failStartExecution = { type: 'StateMachineDoesNotExist', message: 'State Machine Does Not Exist' };
    await expect(invoke(fixture)).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
  });

  it('refuses an event that is not an SQS batch, naming the problem', async () => {
    await expect(invoke({ detail: {} })).rejects.toMatchObject({ name: 'InvalidEventError', message: expect.stringContaining('Records') });
  });
});
