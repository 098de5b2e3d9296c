/**
 * A publish in two steps, so that a process killed half-way leaves nothing half-done for long: first the journal
 * (`publish-journal.json`: every copy and removal the publish will make), then the changes, then the run's commit
 * record (`runs/<runId>/publish.json`) and the journal's removal. Whoever next holds the output's lease (the next
 * publish, `featurize repair`) finds a journal left behind and carries it out: copies are idempotent (the same
 * bytes to the same key) and removals too, so finishing is always safe, however far the first attempt got.
 *
 * Copies come before removals: a reader of features/ may see a re-processed image twice while a publish is under
 * way, never zero times.
 */
import pMap from 'p-map';
import { z } from 'zod';
import { ObjectReadError, RunArtifactError } from '../errors.ts';
import { parseJsonDocument } from '../json-document.ts';
import { logger } from '../observability.ts';
import { publishJournalKey, publishRecordKey } from '../run-layout.ts';
import { readIfPresent, type Storage } from '../storage/storage.ts';
import type { Lease } from './publish-lease.ts';

export const publishJournalSchema = z.object({
  runId: z.string(),
  kind: z.enum(['full', 'scoped', 'incremental']),
  /** The run's parts once published, keys in features/. */
  published: z.array(z.string()),
  copies: z.array(z.object({ from: z.string(), to: z.string() })),
  removals: z.array(z.string()),
  rewrittenParts: z.number().int().nonnegative(),
  /** Parts of later-started runs that kept paths this run also had (their rows won). */
  newerParts: z.array(z.string()),
  startedAt: z.string(),
  /** Set in the commit record, once every change is made. */
  committedAt: z.string().optional(),
});

export type PublishJournal = z.infer<typeof publishJournalSchema>;

/** The run's commit record: what its publish did, once it was done; undefined while it is not. */
export async function readPublishRecord(output: Storage, runId: string): Promise<PublishJournal | undefined> {
  const bytes = await readIfPresent(output, publishRecordKey(runId));
  return bytes ? parse(bytes, output.locationOf(publishRecordKey(runId))) : undefined;
}

/** Writes the journal, then makes its changes and commits: see above. */
export async function commitPublish(output: Storage, journal: PublishJournal, lease: Lease, concurrency: number): Promise<PublishJournal> {
  lease.check();
  await output.write(publishJournalKey, `${JSON.stringify(journal, null, 2)}\n`);
  return carryOut(output, journal, lease, concurrency);
}

/** The journal of a publish a killed process left half-done; undefined when there is none. */
export async function readPendingPublish(output: Storage): Promise<PublishJournal | undefined> {
  const bytes = await readIfPresent(output, publishJournalKey);
  return bytes ? parse(bytes, output.locationOf(publishJournalKey)) : undefined;
}

/** A publish a killed process left half-done, finished; undefined when there is none. Hold the lease. */
export async function finishPendingPublish(output: Storage, lease: Lease, concurrency: number): Promise<PublishJournal | undefined> {
  const journal = await readPendingPublish(output);
  if (!journal) return undefined;
  logger.warn('finishing a publish that was interrupted', {
    runId: journal.runId,
    copies: journal.copies.length,
    removals: journal.removals.length,
  });
  return carryOut(output, journal, lease, concurrency);
}

async function carryOut(output: Storage, journal: PublishJournal, lease: Lease, concurrency: number): Promise<PublishJournal> {
  await pMap(
    journal.copies,
    async ({ from, to }) => {
      lease.check();
      try {
        await output.copy(from, to);
      } catch (error) {
        // Copied already, its source since expired: what the target holds is what the journal put there.
        if (!(error instanceof ObjectReadError) || !(await readIfPresent(output, to))) {
          if (!(error instanceof ObjectReadError)) throw error;
          throw new RunArtifactError(`cannot finish the publish of run ${journal.runId}: ${error.message}`, { cause: error });
        }
      }
    },
    { concurrency },
  );
  lease.check();
  await output.remove(journal.removals);
  const record = { ...journal, committedAt: new Date().toISOString() };
  await output.write(publishRecordKey(journal.runId), `${JSON.stringify(record, null, 2)}\n`);
  await output.remove([publishJournalKey]);
  return record;
}

function parse(bytes: Uint8Array, where: string): PublishJournal {
  return parseJsonDocument(publishJournalSchema, bytes, where, { expected: 'a publish journal', error: RunArtifactError });
}
