/**
 * A publish killed mid-way, as a crash or `kill -9` would: run as its own process
 * (`node publish-killed.ts <request.json>`), it publishes a staged run and kills itself with SIGKILL right after
 * its `copies`-th copy into features/, before any removal.
 */
import { readFileSync } from 'node:fs';
import { publishRun } from '../../functions/publish/publish-run.ts';
import { leaseStoreFor } from '../../functions/shared/dataset/publish-lease.ts';
import { openStorage } from '../../functions/shared/storage/open-storage.ts';
import type { StorageLocation } from '../../functions/shared/storage/storage.ts';
import type { RunScope } from '../../statemachine/contracts.ts';

export interface KilledPublish {
  runId: string;
  output: StorageLocation;
  scope: RunScope;
  parts: string[];
  copies: number;
}

const request = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as KilledPublish;
const storage = openStorage(request.output);
let copied = 0;
const dying = {
  ...storage,
  list: storage.list.bind(storage),
  read: storage.read.bind(storage),
  readRange: storage.readRange.bind(storage),
  locationOf: storage.locationOf.bind(storage),
  write: storage.write.bind(storage),
  remove: storage.remove.bind(storage),
  async copy(from: string, to: string) {
    await storage.copy(from, to);
    if (to.startsWith('features/') && ++copied === request.copies) process.kill(process.pid, 'SIGKILL');
  },
};
await publishRun(
  { runId: request.runId, output: dying, scope: request.scope, parts: request.parts, lease: await leaseStoreFor(storage) },
  { rowGroupRows: 4, readConcurrency: 1, leaseMs: 60_000 },
);
throw new Error('the publish ended without being killed: fewer copies than asked');
