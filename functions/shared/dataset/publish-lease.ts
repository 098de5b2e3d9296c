/**
 * Runs on one output take turns to change its dataset: a lease, taken with a conditional write before a publish
 * plans and released after it committed, so that each publish plans against the dataset as it is when it commits.
 *
 * The same lease, two implementations of one contract (test/unit/publish-lease.test.ts runs both):
 * - DynamoDB (the deployed stack's table; dynamo-lease-store.ts, imported only when a table is set, since its SDK
 *   costs a local run 0.2 s of CPU): a conditional PutItem takes the lease when nobody holds it or its holder's
 *   lease expired; UpdateItem and DeleteItem renew and release it on condition that the caller still owns it. This
 *   is the semaphore pattern AWS describes for Step Functions, with the item's expiry instead of a count.
 * - a lock file (runs on this machine), read and replaced only under a mutex file beside it (FileLeaseStore):
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
import { cacheDir, type LeaseSettings, leaseSettings } from '../config.ts';
import { ConfigError, PublishLeaseBusyError, PublishLeaseLostError, StorageUnavailableError } from '../errors.ts';
import { logger } from '../observability.ts';
import { indexLockKey, publishLockKey } from '../run-layout.ts';
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
    throw new PublishLeaseBusyError(`${attempt.holder} holds the lease on ${store.where}; free again when it is done or its lease expires`);
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

interface LockContent {
  owner: string;
  host: string;
  pid: number;
  expiresAt: number;
}

/**
 * The lease as a lock file. Every reading and change of it (take, take over, renew, release) happens while holding
 * a mutex file beside it, created with link() (which fails if it exists), held for the milliseconds a change takes;
 * the lock file itself is replaced whole with rename(). So two processes never both see a lease free, whatever
 * their interleaving. A mutex left by a process that died holding it (its pid gone, or older than a minute) is
 * broken: moved aside, and put back if it was not the one judged abandoned.
 */
export class FileLeaseStore implements LeaseStore {
  readonly where: string;
  private readonly file: string;

  constructor(file: string) {
    this.file = file;
    this.where = file;
  }

  tryAcquire(owner: string, leaseMs: number) {
    return this.exclusively(async () => {
      const held = await readLock(this.file);
      // An unreadable lock file is no one's lease (locks are renamed into place whole): taken like an expired one.
      if (held && held.owner !== owner && !expired(held)) return { acquired: false, holder: describeHolder(held) } as const;
      await this.put(owner, leaseMs);
      return { acquired: true } as const;
    });
  }

  renew(owner: string, leaseMs: number): Promise<boolean> {
    return this.exclusively(async () => {
      if ((await readLock(this.file))?.owner !== owner) return false;
      await this.put(owner, leaseMs);
      return true;
    });
  }

  release(owner: string): Promise<void> {
    return this.exclusively(async () => {
      if ((await readLock(this.file))?.owner === owner) await rm(this.file, { force: true });
    });
  }

  /** The lock file replaced, in one rename, by `owner`'s. */
  private async put(owner: string, leaseMs: number): Promise<void> {
    const staged = await stageLock(this.file, { owner, host: hostname(), pid: process.pid, expiresAt: Date.now() + leaseMs });
    await rename(staged, this.file);
  }

  private async exclusively<T>(work: () => Promise<T>): Promise<T> {
    const mutex = `${this.file}.mutex`;
    const mine = await stageLock(mutex, { owner: 'mutex', host: hostname(), pid: process.pid, expiresAt: Date.now() + mutexStaleMs });
    try {
      const deadline = Date.now() + mutexWaitMs;
      while (!(await linked(mine, mutex))) {
        const holder = await readLock(mutex);
        if (holder && expired(holder)) await breakMutex(mutex, holder);
        else if (Date.now() > deadline) throw new StorageUnavailableError(`${mutex} stayed held for ${mutexWaitMs / 1000} s`);
        else await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 8));
      }
    } finally {
      await rm(mine, { force: true });
    }
    try {
      return await work();
    } finally {
      await rm(mutex, { force: true });
    }
  }
}

/** A mutex is held for milliseconds: one older than this was left by a process stopped while holding it. */
const mutexStaleMs = 60_000;
const mutexWaitMs = 10_000;

/** Removes an abandoned mutex, unless another process replaced it meanwhile (then it is put back). */
async function breakMutex(mutex: string, abandoned: LockContent): Promise<void> {
  const aside = `${mutex}.${process.pid}.${randomBytes(4).toString('hex')}.broken`;
  try {
    await rename(mutex, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const moved = await readLock(aside);
  if (!moved || !sameLock(moved, abandoned)) await linked(aside, mutex);
  await rm(aside, { force: true });
}

/** The content written under a temporary name beside `file`, to be linked or renamed into place whole. */
async function stageLock(file: string, content: LockContent): Promise<string> {
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, JSON.stringify(content));
  return temporary;
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
 * Where a lease on an output is kept (`publish`: on its dataset, features/; `index`: on its index, which is read
 * from the dataset but never changes it): the deployment's DynamoDB table when one is set; otherwise a lock file,
 * inside a local output, or for an S3 output written from this machine, in this user's cache (which then only
 * serializes the runs of this machine: set FEATURIZE_LEASE_TABLE to share the deployed table).
 */
export async function leaseStoreFor(
  output: Storage,
  settings: Pick<LeaseSettings, 'table' | 'inLambda'> = leaseSettings(),
  lease: 'publish' | 'index' = 'publish',
): Promise<LeaseStore> {
  // The dataset's lease keeps the output's own name (the one earlier deployments took); the index's is beside it.
  const resource = lease === 'publish' ? output.root : `${output.root}#index`;
  const lockName = lease === 'publish' ? publishLockKey : indexLockKey;
  if (settings.table) {
    const { DynamoLeaseStore } = await import('./dynamo-lease-store.ts');
    return new DynamoLeaseStore(settings.table, resource);
  }
  if (settings.inLambda)
    throw new ConfigError('FEATURIZE_LEASE_TABLE is not set: a Lambda function cannot serialize publishes with a lock file');
  const folder = output.root.startsWith('s3://') ? join(cacheDir(), 'locks') : output.root;
  await mkdir(folder, { recursive: true });
  return new FileLeaseStore(
    join(folder, output.root.startsWith('s3://') ? `${Buffer.from(resource).toString('base64url')}.lock` : lockName),
  );
}
