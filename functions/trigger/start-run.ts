/**
 * Uploads to an incremental run: S3 "Object Created" events (as EventBridge delivers them, one per SQS message)
 * become a JSON manifest of their keys and one execution of the state machine over it. Knows nothing of Lambda.
 *
 * Each event's key is resolved to the object it names (event-keys.ts: as given, or URL-decoded); keys that are no
 * images (hidden files and folders, S3 folder markers: `skipReason`, the rule every way a run finds its inputs
 * shares) are skipped and counted, and a batch of nothing else starts no run.
 *
 * Duplicates (S3 and SQS both deliver at least once):
 * - within a batch, one entry per key (the latest event of a key wins, by S3's sequencer);
 * - across deliveries, the execution is named from the batch's content, so a redelivered identical batch maps to
 *   the same name: Step Functions answers ExecutionAlreadyExists (or, while it runs, returns the same execution),
 *   and that counts as started;
 * - what is left (a duplicate event arriving in a different batch) re-processes a key in a second run, and the
 *   reducer replaces the rows of re-processed paths in incremental runs: no duplicate rows.
 */
import { createHash } from 'node:crypto';
import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import { InvalidEventError } from '../shared/errors.ts';
import { type FailureCode, skipReason } from '../shared/failures.ts';
import { manifestKey } from '../shared/run-layout.ts';
import { normalizePrefix, type Storage, type StorageLocation } from '../shared/storage/storage.ts';
import { formDecode, type HeadObject, resolveEventKeys } from './event-keys.ts';

/** One uploaded object, as its event describes it. */
export interface Upload {
  /** The object's key: as the event gave it, or once resolved (`resolveUploads`), the key of the object it names. */
  key: string;
  /** The key as the event spelled it, when that differs from `key`: the event's key was URL-encoded. */
  eventKey?: string;
  size?: number;
  etag?: string;
  /** Orders events of the same key: a later write has a greater sequencer. */
  sequencer?: string;
  /** When S3 created the object (ISO 8601). */
  time: string;
}

/** What the ASL's manifest ItemReader reads: the same item shape as its S3 listing gives the extract function. */
export interface ManifestItem {
  Key: string;
  Size?: number;
  Etag?: string;
  /** The event's spelling of Key, when the trigger had to URL-decode it to find the object (the run's record of it). */
  EventKey?: string;
}

/** S3 -> EventBridge "Object Created" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html). */
const objectCreatedSchema = z.object({
  source: z.literal('aws.s3'),
  'detail-type': z.literal('Object Created'),
  time: z.iso.datetime(),
  detail: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({
      key: z.string().min(1),
      size: z.number().int().nonnegative().optional(),
      etag: z.string().optional(),
      sequencer: z.string().optional(),
    }),
  }),
});

/**
 * One SQS message body to an upload. Anything else (another event shape, another bucket or prefix) is an
 * InvalidEventError: that record fails alone and, redelivered, ends in the dead-letter queue.
 */
export function parseUpload(body: string, input: StorageLocation): Upload {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new InvalidEventError(`not JSON: ${body.slice(0, 80)}`);
  }
  const parsed = objectCreatedSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`);
    throw new InvalidEventError(`not an S3 Object Created event from EventBridge: ${problems.slice(0, 3).join('; ')}`);
  }
  const { time, detail } = parsed.data;
  const { key, size, etag, sequencer } = detail.object;
  const prefix = normalizePrefix(input.prefix);
  // Either spelling of the key may be the object's (event-keys.ts), so either may show it under the prefix.
  if (detail.bucket.name !== input.bucket || !(key.startsWith(prefix) || formDecode(key).startsWith(prefix))) {
    throw new InvalidEventError(`s3://${detail.bucket.name}/${key} is outside the input s3://${input.bucket}/${prefix}`);
  }
  return {
    key,
    time,
    ...(size !== undefined ? { size } : {}),
    ...(etag ? { etag } : {}),
    ...(sequencer ? { sequencer } : {}),
  };
}

/** An upload that is no image, and why (the failure code every way a run finds its inputs skips it with). */
export interface SkippedUpload {
  key: string;
  reason: Extract<FailureCode, 'HIDDEN' | 'FOLDER_MARKER'>;
}

export interface ResolvedUploads {
  /** What the run is over: one per object, keys resolved. */
  uploads: Upload[];
  skipped: SkippedUpload[];
  /** Event keys that name no object under either spelling now (deleted since): kept as given, so the run records them. */
  notFound: string[];
}

/**
 * The batch's uploads with their keys resolved to the objects they name, minus what is no image. `inputPrefix`:
 * hidden folders are judged below it, so that an input prefix of its own is never a reason to skip.
 */
export async function resolveUploads(events: readonly Upload[], inputPrefix: string, head: HeadObject): Promise<ResolvedUploads> {
  const latest = dedupeUploads(events);
  const resolved = await resolveEventKeys(latest, head);
  const prefix = normalizePrefix(inputPrefix);
  const batch: ResolvedUploads = { uploads: [], skipped: [], notFound: [] };
  latest.forEach((event, i) => {
    const { key, spelling } = resolved[i] ?? { key: event.key, spelling: 'as-given' };
    if (spelling === 'not-found') batch.notFound.push(key);
    // The prefix's own folder marker is the prefix itself: judged whole, as a key ending in `/`.
    const reason = skipReason(key.startsWith(prefix) ? key.slice(prefix.length) || key : key);
    if (reason) batch.skipped.push({ key, reason });
    else batch.uploads.push({ ...event, key, ...(key !== event.key ? { eventKey: event.key } : {}) });
  });
  return batch;
}

/** One upload per key, the latest write of each, in key order (so that equal batches look equal). */
export function dedupeUploads(uploads: readonly Upload[]): Upload[] {
  const latest = new Map<string, Upload>();
  for (const upload of uploads) {
    const seen = latest.get(upload.key);
    if (!seen || compareSequencers(upload.sequencer, seen.sequencer) > 0) latest.set(upload.key, upload);
  }
  return [...latest.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * S3's sequencers are hexadecimal strings of varying length: compare them padded to the same length
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html).
 */
function compareSequencers(a = '', b = ''): number {
  const width = Math.max(a.length, b.length);
  const [x, y] = [a.padStart(width, '0'), b.padStart(width, '0')];
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * A name that depends on the batch's content only: the earliest upload time (so executions sort by when their
 * files arrived) and a hash of every key with its ETag. Valid as an execution name and as a run id.
 */
export function executionNameFor(uploads: readonly Upload[]): string {
  const earliest = uploads.map((upload) => upload.time).sort()[0] ?? '';
  const stamp = earliest.replace(/[-:]/g, '').replace(/\.\d+/, '');
  const hash = createHash('sha256');
  for (const upload of dedupeUploads(uploads)) hash.update(`${upload.key}\0${upload.etag ?? ''}\n`);
  return `upload-${stamp}-${hash.digest('hex').slice(0, 24)}`;
}

export function manifestItems(uploads: readonly Upload[]): ManifestItem[] {
  return dedupeUploads(uploads).map((upload) => ({
    Key: upload.key,
    ...(upload.size !== undefined ? { Size: upload.size } : {}),
    ...(upload.etag ? { Etag: upload.etag } : {}),
    ...(upload.eventKey ? { EventKey: upload.eventKey } : {}),
  }));
}

export interface IncrementalRunTarget {
  sfn: SFNClient;
  stateMachineArn: string;
  /** Storage rooted at the output location; `output` is that location, for the execution input. */
  outputStorage: Storage;
  output: { bucket: string; prefix: string };
}

export interface IncrementalRun {
  executionName: string;
  executionArn: string;
  manifest: { bucket: string; key: string };
  keys: number;
  /** True when this batch had been started before (a redelivery): nothing new was started. */
  alreadyStarted: boolean;
}

/** Writes the batch's manifest and starts its execution; a redelivered batch is recognised, not re-run. */
export async function startIncrementalRun(uploads: readonly Upload[], target: IncrementalRunTarget): Promise<IncrementalRun> {
  const items = manifestItems(uploads);
  const executionName = executionNameFor(uploads);
  const key = manifestKey(executionName);
  const manifest = { bucket: target.output.bucket, key: `${normalizePrefix(target.output.prefix)}${key}` };
  // Same batch, same bytes: rewriting the manifest of a redelivered batch changes nothing.
  await target.outputStorage.write(key, `${JSON.stringify(items)}\n`);
  try {
    const started = await target.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: target.stateMachineArn,
        name: executionName,
        input: JSON.stringify({ manifest }),
      }),
    );
    return { executionName, executionArn: started.executionArn ?? '', manifest, keys: items.length, alreadyStarted: false };
  } catch (error) {
    if ((error as { name?: string }).name !== 'ExecutionAlreadyExists') throw error;
    const executionArn = `${target.stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;
    return { executionName, executionArn, manifest, keys: items.length, alreadyStarted: true };
  }
}
