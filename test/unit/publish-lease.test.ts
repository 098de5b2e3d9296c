import { spawnSync } from 'node:child_process';
import { link, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoLeaseStore } from '../../functions/shared/dataset/dynamo-lease-store.ts';
import { FileLeaseStore, type LeaseStore, leaseStoreFor, withLease } from '../../functions/shared/dataset/publish-lease.ts';
import { openStorage } from '../../functions/shared/storage/open-storage.ts';
import { type LeaseTable, startLeaseTable } from '../support/lease-table.ts';

let dir: string;
let client: DynamoDBClient;
let leaseTable: LeaseTable;
const table = 'featurize-leases';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'publish-lease-'));
  leaseTable = await startLeaseTable(table);
  client = leaseTable.client;
});

afterAll(async () => {
  await leaseTable.close();
  await rm(dir, { recursive: true, force: true });
});

let resources = 0;
/**
 * A fresh lease on a resource of its own, and a way for `owner` to take it from its holder at once, as one that
 * judged it expired (the holder stalled, or was cut off) would: whatever the holder's renewal is doing meanwhile.
 */
const stores: [string, () => { store: LeaseStore; steal: (owner: string) => Promise<void> }][] = [
  [
    'a lock file',
    () => {
      const file = join(dir, `lease-${++resources}.lock`);
      return {
        store: new FileLeaseStore(file),
        // As another process taking it over would: under the lock's mutex (publish-lease.ts).
        steal: async (owner) => {
          const lock = { owner, host: hostname(), pid: process.pid, expiresAt: Date.now() + 60_000 };
          await writeFile(`${file}.thief`, JSON.stringify(lock));
          for (;;) {
            try {
              await link(`${file}.thief`, `${file}.mutex`);
              break;
            } catch {
              await sleep(1);
            }
          }
          await rename(`${file}.thief`, file);
          await rm(`${file}.mutex`);
        },
      };
    },
  ],
  [
    'DynamoDB (dynalite)',
    () => {
      const resource = `s3://bucket/out-${++resources}/`;
      return {
        store: new DynamoLeaseStore(table, resource, client),
        steal: async (owner) =>
          void (await client.send(
            new PutItemCommand({
              TableName: table,
              Item: { resource: { S: resource }, owner: { S: owner }, expiresAt: { N: String(Date.now() + 60_000) } },
            }),
          )),
      };
    },
  ],
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(stores)('the publish lease in %s', (_, fresh) => {
  it('is taken by one owner at a time, renewed and released only by its owner, then free again', async () => {
    const { store } = fresh();
    expect(await store.tryAcquire('run-a#1', 60_000)).toEqual({ acquired: true });
    expect(await store.tryAcquire('run-b#1', 60_000)).toEqual({ acquired: false, holder: expect.stringContaining('run-a#1') });
    expect(await store.renew('run-b#1', 60_000)).toBe(false);
    await store.release('run-b#1');
    expect(await store.tryAcquire('run-b#1', 60_000)).toMatchObject({ acquired: false });
    expect(await store.renew('run-a#1', 60_000)).toBe(true);
    await store.release('run-a#1');
    expect(await store.tryAcquire('run-b#1', 60_000)).toEqual({ acquired: true });
  });

  it('is taken over once it expired, and its former holder can neither renew nor release it', async () => {
    const { store } = fresh();
    await store.tryAcquire('run-a#1', 50);
    await sleep(80);
    expect(await store.tryAcquire('run-b#1', 60_000)).toEqual({ acquired: true });
    expect(await store.renew('run-a#1', 60_000)).toBe(false);
    await store.release('run-a#1');
    expect(await store.tryAcquire('run-c#1', 60_000)).toEqual({ acquired: false, holder: expect.stringContaining('run-b#1') });
  });

  it.each([
    ['free', 60_000],
    ['expired', 1],
  ])('goes to exactly one of many owners asking at once when it is %s', async (_, firstLeaseMs) => {
    const { store } = fresh();
    await store.tryAcquire('run-old#1', firstLeaseMs);
    await store.release(firstLeaseMs === 1 ? 'nobody' : 'run-old#1');
    await sleep(5);
    const owners = Array.from({ length: 12 }, (_, i) => `run-${i}#1`);

    const attempts = await Promise.all(owners.map((owner) => store.tryAcquire(owner, 60_000)));

    const winners = owners.filter((_, i) => attempts[i]!.acquired);
    expect(winners).toHaveLength(1);
    for (const owner of owners) expect(await store.renew(owner, 60_000)).toBe(owner === winners[0]);
  });

  it('makes withLease refuse a second holder, renew in the background, and stop its work once the lease was lost', async () => {
    const { store, steal } = fresh();
    await withLease(store, 'run-a#1', 150, async (lease) => {
      await expect(withLease(store, 'run-b#1', 150, async () => 'ran')).rejects.toMatchObject({ name: 'PublishLeaseBusyError' });
      await sleep(400); // beyond the lease's duration: renewals kept it
      lease.check();
      await steal('run-b#1');
      await sleep(150);
      expect(() => lease.check()).toThrow(expect.objectContaining({ name: 'PublishLeaseLostError' }));
    });
    // Released by run-a's end without touching run-b's lease.
    expect(await store.renew('run-b#1', 60_000)).toBe(true);
  });
});

describe('the publish lease in a lock file', () => {
  it('is taken over at once from a process of this machine that no longer runs, and from an unreadable lock file', async () => {
    const file = join(dir, 'dead-holder.lock');
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    await writeFile(file, JSON.stringify({ owner: 'run-dead#1', host: hostname(), pid: deadPid, expiresAt: Date.now() + 3_600_000 }));
    expect(await new FileLeaseStore(file).tryAcquire('run-a#1', 60_000)).toEqual({ acquired: true });

    await writeFile(file, '{"owner": "run-');
    expect(await new FileLeaseStore(file).tryAcquire('run-b#1', 60_000)).toEqual({ acquired: true });
  });

  it('leaves no temporary file behind', async () => {
    const folder = await mkdtemp(join(dir, 'tidy-'));
    const store = new FileLeaseStore(join(folder, 'publish.lock'));
    await store.tryAcquire('run-a#1', 1);
    await sleep(5);
    await Promise.all(['run-b#1', 'run-c#1', 'run-d#1'].map((owner) => store.tryAcquire(owner, 60_000)));
    expect(await readdir(folder)).toEqual(['publish.lock']);
  });
});

describe('leaseStoreFor', () => {
  it('keeps the lease in the deployed table when one is set, in the output folder otherwise, and refuses a Lambda without a table', async () => {
    const local = openStorage({ bucket: join(dir, 'out') });
    expect(await leaseStoreFor(local, { table: 'leases', inLambda: true })).toBeInstanceOf(DynamoLeaseStore);
    expect((await leaseStoreFor(local, { table: undefined, inLambda: false })).where).toBe(join(dir, 'out', 'publish.lock'));
    await expect(leaseStoreFor(local, { table: undefined, inLambda: true })).rejects.toMatchObject({
      name: 'ConfigError',
      message: expect.stringContaining('FEATURIZE_LEASE_TABLE'),
    });
  });
});
