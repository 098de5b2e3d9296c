/**
 * Runs on one output take turns to change its dataset: a lease, taken with a conditional write before a publish
 * plans and released after it committed, so that each publish plans against the dataset as it is when it commits.
 *
 * The same lease, two implementations of one contract (test/unit/publish-lease.test.ts runs both):
 * - DynamoDB (the deployed stack's table): a conditional PutItem takes the lease when nobody holds it or its
 *   holder's lease expired; UpdateItem and DeleteItem renew and release it on condition that the caller still
 *   owns it. This is the semaphore pattern AWS describes for Step Functions, with the item's expiry instead of a
 *   count.
 * - a lock file (runs on this machine): created atomically with its content (link() fails if the file exists),
 *   taken over when expired, or at once when its holder is a process of this machine that no longer runs.
 *
 * The holder renews the lease every third of its duration; a holder that could not (stalled, partitioned) learns
 * it lost the lease at its next check() and stops before changing anything more. As with any lease, a holder
 * stalled between a check and its next write could still write once after losing it: checks come before each
 * phase of a publish, and the journal (publish-journal.ts) lets the next holder finish or redo what was begun.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { cacheDir, type LeaseSettings, leaseSettings } from '../config.ts';
import { ConfigError, PublishLeaseBusyError, PublishLeaseLostError, StorageUnavailableError } from '../errors.ts';
import { logger } from '../observability.ts';
import { publishLockKey } from '../run-layout.ts';
import type { Storage } from '../storage/storage.ts';

/** A lease held: renewed in the background until released. */
export interface Lease {
  readonly owner: string;
  /** Throws PublishLeaseLostError once the lease could not be renewed in time. */
  check(): void;
  release(): Promise<void>;
}

/** Takes the lease on one resource (an output location), or says who holds it. */
export interface LeaseStore {
  /** Where the lease is kept, for messages. */
  readonly where: string;
  /** The lease, or the holder's description when another owner holds an unexpired lease. */
  tryAcquire(owner: string, leaseMs: number): Promise<{ acquired: true } | { acquired: false; holder: string }>;
  /** Extends the lease; false when `owner` no longer holds it. */
  renew(owner: string, leaseMs: number): Promise<boolean>;
  release(owner: string): Promise<void>;
}

/** Holds the lease for `owner` while `work` runs; PublishLeaseBusyError when another owner holds it. */
export async function withLease<T>(store: LeaseStore, owner: string, leaseMs: number, work: (lease: Lease) => Promise<T>): Promise<T> {
  const attempt = await store.tryAcquire(owner, leaseMs);
  if (!attempt.acquired) {
    throw new PublishLeaseBusyError(`${attempt.holder} holds the lease on ${store.where}; this run publishes once it is free`);
  }
  let lost = false;
  let renewing = Promise.resolve();
  const timer = setInterval(() => {
    renewing = store
      .renew(owner, leaseMs)
      .then((held) => {
        if (!held) lost = true;
      })
      .catch((error: unknown) => logger.warn('lease renewal failed; retrying', { where: store.where, error: String(error) }));
  }, leaseMs / 3);
  timer.unref();
  const lease: Lease = {
    owner,
    check() {
      if (lost)
        throw new PublishLeaseLostError(`the lease on ${store.where} was lost (not renewed in time): stopping before the next change`);
    },
    async release() {
      clearInterval(timer);
      await renewing;
      await store.release(owner);
    },
  };
  try {
    return await work(lease);
  } finally {
    await lease.release();
  }
}

/** A unique owner for one attempt of one run: a retry is another owner. */
export function leaseOwner(runId: string): string {
  return `${runId}#${randomBytes(4).toString('hex')}`;
}

/** The leases in a DynamoDB table keyed by `resource` (string). */
export class DynamoLeaseStore implements LeaseStore {
  readonly where: string;
  private readonly client: DynamoDBClient;
  private readonly table: string;
  private readonly resource: string;

  constructor(table: string, resource: string, client = new DynamoDBClient({})) {
    this.table = table;
    this.resource = resource;
    this.client = client;
    this.where = `${resource} (DynamoDB table ${table})`;
  }

  async tryAcquire(owner: string, leaseMs: number) {
    const now = Date.now();
    try {
      await this.call((client) =>
        client.send(
          new PutItemCommand({
            TableName: this.table,
            Item: {
              resource: { S: this.resource },
              owner: { S: owner },
              expiresAt: { N: String(now + leaseMs) },
              acquiredAt: { N: String(now) },
            },
            ConditionExpression: 'attribute_not_exists(#resource) OR #expiresAt < :now',
            ExpressionAttributeNames: { '#resource': 'resource', '#expiresAt': 'expiresAt' },
            ExpressionAttributeValues: { ':now': { N: String(now) } },
          }),
        ),
      );
      return { acquired: true } as const;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const { Item } = await this.call((client) =>
        client.send(new GetItemCommand({ TableName: this.table, Key: { resource: { S: this.resource } }, ConsistentRead: true })),
      );
      return { acquired: false, holder: `run ${Item?.owner?.S ?? 'unknown'}` } as const;
    }
  }

  async renew(owner: string, leaseMs: number): Promise<boolean> {
    try {
      await this.call((client) =>
        client.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: { resource: { S: this.resource } },
            UpdateExpression: 'SET #expiresAt = :expiresAt',
            ConditionExpression: '#owner = :owner',
            ExpressionAttributeNames: { '#owner': 'owner', '#expiresAt': 'expiresAt' },
            ExpressionAttributeValues: { ':owner': { S: owner }, ':expiresAt': { N: String(Date.now() + leaseMs) } },
          }),
        ),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async release(owner: string): Promise<void> {
    try {
      await this.call((client) =>
        client.send(
          new DeleteItemCommand({
            TableName: this.table,
            Key: { resource: { S: this.resource } },
            ConditionExpression: '#owner = :owner',
            ExpressionAttributeNames: { '#owner': 'owner' },
            ExpressionAttributeValues: { ':owner': { S: owner } },
          }),
        ),
      );
    } catch (error) {
      // Not ours any more: it expired and another owner took it.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** A request whose failure, but for a failed condition, is the table being unreachable (retried by the state machine). */
  private async call<T>(request: (client: DynamoDBClient) => Promise<T>): Promise<T> {
    try {
      return await request(this.client);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw error;
      throw new StorageUnavailableError(`cannot reach the lease table ${this.table}: ${(error as Error).message}`, { cause: error });
    }
  }
}

interface LockContent {
  owner: string;
  host: string;
  pid: number;
  expiresAt: number;
}

/**
 * The lease as a lock file. Taking a free lease is one link() (fails if the file exists). Taking over an expired
 * one, renewing and releasing first move the lock file aside with rename() (atomic: of several processes doing it
 * at once, one gets the file), then look at what they moved: the lock they expected goes on, anything else is put
 * back. No write ever replaces a lock file another process may have just written.
 */
export class FileLeaseStore implements LeaseStore {
  readonly where: string;
  private readonly file: string;

  constructor(file: string) {
    this.file = file;
    this.where = file;
  }

  async tryAcquire(owner: string, leaseMs: number) {
    const mine = await this.stage(owner, leaseMs);
    try {
      if (await linked(mine, this.file)) return { acquired: true } as const;
      const held = await readLock(this.file);
      if (held && !expired(held)) return { acquired: false, holder: describeHolder(held) } as const;
      // An unreadable lock file is no one's lease (locks are linked whole): taken over like an expired one.
      const moved = await this.moveAside((lock) => (held === undefined ? lock === undefined : lock !== undefined && sameLock(lock, held)));
      if (moved === 'gone' || moved === 'taken') {
        // Someone else moved or replaced it first: the lease is theirs unless the file is free by now.
        if (await linked(mine, this.file)) return { acquired: true } as const;
        const now = await readLock(this.file);
        return { acquired: false, holder: now ? describeHolder(now) : 'another run' } as const;
      }
      return (await linked(mine, this.file)) ? ({ acquired: true } as const) : ({ acquired: false, holder: 'another run' } as const);
    } finally {
      await rm(mine, { force: true });
    }
  }

  async renew(owner: string, leaseMs: number): Promise<boolean> {
    const mine = await this.stage(owner, leaseMs);
    try {
      return (await this.moveAside((lock) => lock?.owner === owner)) === 'moved' && (await linked(mine, this.file));
    } finally {
      await rm(mine, { force: true });
    }
  }

  async release(owner: string): Promise<void> {
    await this.moveAside((lock) => lock?.owner === owner);
  }

  /**
   * Moves the lock file aside and removes it when `expected` accepts what was moved; otherwise puts it back (or,
   * when another lock took its place meanwhile, leaves that one: the one moved aside lost its lease).
   */
  private async moveAside(expected: (lock: LockContent | undefined) => boolean): Promise<'moved' | 'gone' | 'taken'> {
    const aside = `${this.file}.aside.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      await rename(this.file, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
      throw error;
    }
    try {
      if (expected(await readLock(aside))) return 'moved';
      await linked(aside, this.file);
      return 'taken';
    } finally {
      await rm(aside, { force: true });
    }
  }

  /** The lock's content under a temporary name beside it. */
  private async stage(owner: string, leaseMs: number): Promise<string> {
    const temporary = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    const content: LockContent = { owner, host: hostname(), pid: process.pid, expiresAt: Date.now() + leaseMs };
    await writeFile(temporary, JSON.stringify(content));
    return temporary;
  }
}

/** Whether `target` was created as a hard link of `source`; false when it exists already. */
async function linked(source: string, target: string): Promise<boolean> {
  try {
    await link(source, target);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

async function readLock(file: string): Promise<LockContent | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as LockContent;
  } catch {
    return undefined;
  }
}

function sameLock(a: LockContent, b: LockContent): boolean {
  return a.owner === b.owner && a.expiresAt === b.expiresAt && a.pid === b.pid && a.host === b.host;
}

function describeHolder(lock: LockContent): string {
  return `run ${lock.owner} (process ${lock.pid} on ${lock.host})`;
}

function expired(lock: LockContent): boolean {
  return lock.expiresAt < Date.now() || (lock.host === hostname() && !processRuns(lock.pid));
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Where the lease on an output is kept: the deployment's DynamoDB table when one is set; otherwise a lock file,
 * inside a local output, or for an S3 output written from this machine, in this user's cache (which then only
 * serializes the runs of this machine: set FEATURIZE_LEASE_TABLE to share the deployed table).
 */
export async function leaseStoreFor(
  output: Storage,
  settings: Pick<LeaseSettings, 'table' | 'inLambda'> = leaseSettings(),
): Promise<LeaseStore> {
  if (settings.table) return new DynamoLeaseStore(settings.table, output.root);
  if (settings.inLambda)
    throw new ConfigError('FEATURIZE_LEASE_TABLE is not set: a Lambda function cannot serialize publishes with a lock file');
  const folder = output.root.startsWith('s3://') ? join(cacheDir(), 'locks') : output.root;
  await mkdir(folder, { recursive: true });
  return new FileLeaseStore(
    join(folder, output.root.startsWith('s3://') ? `${Buffer.from(output.root).toString('base64url')}.lock` : publishLockKey),
  );
}
