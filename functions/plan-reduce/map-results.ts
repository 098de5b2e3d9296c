/**
 * The Extract map's results (shared/map-run-results.ts reads them a record at a time, from `runs/<runId>/map/`)
 * as PlanReduce needs them: the Output of a success (the extract function's ExtractBatchResult), the Input naming
 * the items of a failure. Several map runs (a redriven map) are merged per batch (a batch's id is the hash of its
 * keys): a success supersedes a failure of the same batch.
 */
import { z } from 'zod';
import { batchEventSchema, type ExtractBatchResult, stepErrorText } from '../../statemachine/contracts.ts';
import { RunArtifactError } from '../shared/errors.ts';
import type { FailureRecord } from '../shared/failures.ts';
import { type MapRunExecution, type MapRunStatus, mapRunExecutions, parseArtifact } from '../shared/map-run-results.ts';
import { logger } from '../shared/observability.ts';
import { batchIdOf, mapResultsPrefix } from '../shared/run-layout.ts';
import { openStorage } from '../shared/storage/open-storage.ts';
import { compareKeys, type Storage } from '../shared/storage/storage.ts';

/** What the reduce needs of a succeeded batch: where its shard is, and which model made its vectors. */
export type SucceededBatch = Pick<
  ExtractBatchResult,
  'batchId' | 'shard' | 'items' | 'vectors' | 'modelId' | 'engine' | 'preprocessing' | 'keys' | 'millis'
>;

export interface MapResults {
  /** One per succeeded batch, in key order: the same results give the same parts, each a range of keys. */
  succeeded: SucceededBatch[];
  /** BATCH_FAILED, for every item of a batch that failed after its retries or never ran. */
  failures: FailureRecord[];
  /** Items across all result files. */
  listed: number;
}

const batchResultSchema = z.looseObject({
  runId: z.string(),
  batchId: z.string().min(1),
  shard: z.string().min(1),
  items: z.number().int().nonnegative(),
  vectors: z.number().int().nonnegative(),
  modelId: z.string(),
  engine: z.string(),
  preprocessing: z.string(),
  keys: z.object({ first: z.string(), last: z.string() }),
  millis: z.object({ total: z.number().nonnegative(), inference: z.number().nonnegative() }),
}) satisfies z.ZodType<Pick<ExtractBatchResult, 'runId'> & SucceededBatch>;

type Outcome = { status: 'SUCCEEDED'; batch: SucceededBatch } | { status: 'FAILED' | 'PENDING'; failures: FailureRecord[] };

/** Longest message kept from a batch's Error and Cause: enough to tell a timeout from an out-of-memory. */
const maxMessageLength = 300;

export async function readMapResults(output: Storage, outputPrefix: string, runId: string): Promise<MapResults> {
  const outcomes = new Map<string, Outcome>();
  for await (const { status, execution, where } of mapRunExecutions(output, outputPrefix, mapResultsPrefix(runId))) {
    record(outcomes, status, execution, runId, where);
  }
  const succeeded: SucceededBatch[] = [];
  const failures: FailureRecord[] = [];
  for (const outcome of outcomes.values()) {
    if (outcome.status === 'SUCCEEDED') succeeded.push(outcome.batch);
    else failures.push(...outcome.failures);
  }
  succeeded.sort((a, b) => compareKeys(a.keys.first, b.keys.first) || compareKeys(a.shard, b.shard));
  const listed = succeeded.reduce((sum, batch) => sum + batch.items, 0) + failures.length;
  return { succeeded, failures, listed };
}

function record(outcomes: Map<string, Outcome>, status: MapRunStatus, execution: MapRunExecution, runId: string, where: string): void {
  if (status === 'SUCCEEDED') {
    const result = parseArtifact(batchResultSchema, execution.Output, `an Output in ${where}`, 'an extract result');
    if (result.runId !== runId) throw new RunArtifactError(`${where} holds a batch of run ${result.runId}, not ${runId}`);
    const { batchId, shard, items, vectors, modelId, engine, preprocessing, keys, millis } = result;
    outcomes.set(batchId, { status, batch: { batchId, shard, items, vectors, modelId, engine, preprocessing, keys, millis } });
    return;
  }
  if (execution.Input === undefined) {
    // Without its Input a batch's items cannot be named; the validator's accounting then reports them missing.
    logger.warn('map result without its input: its items are not recorded', { file: where, status });
    return;
  }
  const batch = parseArtifact(batchEventSchema, execution.Input, `an Input in ${where}`, 'a batch event');
  const batchId = batchIdOf(batch.Items.map((item) => item.Key));
  if (outcomes.get(batchId)?.status === 'SUCCEEDED') return;
  const input = openStorage({ bucket: batch.BatchInput.input.bucket });
  const message = batchFailureMessage(execution);
  outcomes.set(batchId, {
    status,
    failures: batch.Items.map((item) => ({ path: input.locationOf(item.Key), code: 'BATCH_FAILED', message })),
  });
}

/** The batch's Error and the gist of its Cause (a Lambda error's message rather than its stack trace). */
export function batchFailureMessage(execution: Pick<MapRunExecution, 'Error' | 'Cause'>): string {
  if (execution.Error === undefined && execution.Cause === undefined) {
    return 'never ran: the map stopped before this batch started';
  }
  const message = stepErrorText(execution);
  return message.length > maxMessageLength ? `${message.slice(0, maxMessageLength - 1)}…` : message;
}
