/**
 * The index function as Lambda runs it: its event (test/events/update-index.json), the dataset and the index on S3
 * (fauxqs), the output's lease in the deployment's DynamoDB table (dynalite), as FEATURIZE_LEASE_TABLE names it.
 */
import { type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Storage } from '../../functions/shared/storage/s3-storage.ts';
import { exactSearchRows, readIndexManifest } from '../../functions/shared/vectors/vector-index.ts';
import { handler, updateIndex } from '../../functions/update-index/handler.ts';
import event from '../events/update-index.json' with { type: 'json' };
import { clusteredRows, writeFeatureParts } from '../support/feature-parts.ts';
import { type LeaseTable, startLeaseTable } from '../support/lease-table.ts';
import { useTestStores } from '../support/stores.ts';

// fauxqs, its endpoint in AWS_ENDPOINT_URL_S3 (LanceDB reads it too), and the event's bucket.
useTestStores('update-index', [event.output.bucket]);
const table = 'featurize-leases';
const context = { functionName: 'featurize-update-index', awsRequestId: 'r' } as never;
const output = () => new S3Storage(event.output.bucket, event.output.prefix);

let leaseTable: LeaseTable;
let client: DynamoDBClient;
const environment = ['FEATURIZE_LEASE_TABLE', 'AWS_ENDPOINT_URL_DYNAMODB', 'AWS_LAMBDA_FUNCTION_NAME'] as const;
const saved = Object.fromEntries(environment.map((name) => [name, process.env[name]]));

beforeAll(async () => {
  leaseTable = await startLeaseTable(table);
  client = leaseTable.client;
  // As the stack sets them (infra/step-functions.ts), and as Lambda does: no lock file can stand in for the table.
  Object.assign(process.env, {
    FEATURIZE_LEASE_TABLE: table,
    AWS_ENDPOINT_URL_DYNAMODB: leaseTable.endpoint,
    AWS_LAMBDA_FUNCTION_NAME: 'featurize-update-index',
  });
  await writeFeatureParts(output(), event.runId, clusteredRows(40, { width: 16, prefix: 's3://fruits/images' }), { rowsPerPart: 20 });
});

afterAll(async () => {
  for (const name of environment) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  await leaseTable.close();
});

describe('the update-index function', () => {
  it('waits its turn while another run holds the output, changing nothing (the state machine retries it)', async () => {
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: { resource: { S: output().root }, owner: { S: 'a publishing run' }, expiresAt: { N: String(Date.now() + 60_000) } },
      }),
    );
    await expect(handler(event, context)).rejects.toMatchObject({ name: 'PublishLeaseBusyError' });
    expect(await readIndexManifest(output())).toBeUndefined();
    await client.send(
      new PutItemCommand({ TableName: table, Item: { resource: { S: output().root }, owner: { S: 'nobody' }, expiresAt: { N: '0' } } }),
    );
  });

  it('builds the index of the dataset on S3 under the lease, then finds it current', async () => {
    expect(await handler(event, context)).toMatchObject({
      action: 'built',
      rows: 40,
      partsAdded: 2,
      location: 's3://fruits/datasets/mobilenet-v2/index/',
      millis: expect.any(Number),
    });
    expect(await readIndexManifest(output())).toMatchObject({ rows: 40, parts: [{}, {}] });
    expect(await handler(event, context)).toMatchObject({ action: 'current', rows: 40 });
  });

  it("refuses a first ANN build that its invocation's time left cannot hold, from Lambda's context, changing nothing", async () => {
    const large = { ...event, output: { ...event.output, prefix: 'datasets/large/' } };
    const storage = new S3Storage(large.output.bucket, large.output.prefix);
    await writeFeatureParts(storage, event.runId, clusteredRows(exactSearchRows, { width: 16, prefix: 's3://fruits/images' }), {
      rowsPerPart: 5000,
    });
    // As Lambda gives them: the function's memory setting, and a deadline, here 10 ms away (called without middy,
    // whose own timer would end the invocation first).
    const lambdaContext = {
      functionName: 'featurize-update-index',
      awsRequestId: 'r',
      memoryLimitInMB: '10240',
      getRemainingTimeInMillis: () => 10,
    };
    await expect(updateIndex(large, lambdaContext)).rejects.toMatchObject({
      name: 'IndexBuildRefusedError',
      message: expect.stringContaining('(80 % of the 0 s this update has left)'),
    });
    expect(await readIndexManifest(storage)).toBeUndefined();
  });
});
