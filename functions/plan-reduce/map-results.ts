/**
 * The Distributed Map's results, read the way its ResultWriter leaves them: WriterConfig Transformation NONE
 * (each record keeps the child's Input and Output, which PlanReduce needs: the Output of a success, the Input
 * naming the items of a failure) and OutputType JSONL (one record a line), see statemachine/featurize.asl.json
 * and https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html. JSON Lines are read
 * a line at a time, so a result file of any size (up to 5 GB, ~200 MB per million images) is never one string.
 * Under the ResultWriter prefix, `runs/<runId>/map/` of the output location, each map run writes a folder named
 * after its id:
 *
 *   <prefix>/<mapRunId>/manifest.json
 *     { "DestinationBucket": "fruits",
 *       "MapRunArn": "arn:aws:states:eu-west-1:123456789012:mapRun:featurize/Extract:4b9a5f27-…",
 *       "ResultFiles": {
 *         "FAILED":    [{ "Key": "datasets/mobilenet-v2/runs/<runId>/map/<mapRunId>/FAILED_0.json", "Size": 2280 }],
 *         "PENDING":   [],
 *         "SUCCEEDED": [{ "Key": "datasets/mobilenet-v2/runs/<runId>/map/<mapRunId>/SUCCEEDED_0.json", "Size": 9411 }] } }
 *     Keys are full bucket keys (they include the output prefix); a file holds up to 5 GB of records. The files
 *     are read by the keys the manifest gives, whatever their names.
 *
 *   SUCCEEDED_<n>: one record per line, one per child execution (one per batch):
 *     { "ExecutionArn": "…", "Name": "…", "StateMachineArn": "…", "Status": "SUCCEEDED",
 *       "StartDate": "…", "StopDate": "…", "RedriveCount": 0, "RedriveStatus": "NOT_REDRIVABLE", …,
 *       "Input": "{\"Items\":[{\"Key\":…}],\"BatchInput\":{…}}", "InputDetails": { "Included": true },
 *       "Output": "<the extract function's ExtractBatchResult, as JSON>", "OutputDetails": { "Included": true } }
 *   FAILED_<n>: the same records with Status FAILED (TIMED_OUT, ABORTED), and "Error" and "Cause"
 *     (for a Lambda error, Cause is the function's error as JSON: errorType, errorMessage, trace).
 *   PENDING_<n>: batches whose execution never started because the map stopped first.
 *
 * The folder is found by listing rather than from the map state's ResultWriterDetails, which a failed map
 * does not return. Several map runs (a redriven map) are merged per batch (a batch's id is the hash of its
 * keys): a success supersedes a failure of the same batch.
 */
import { z } from 'zod';
import { batchEventSchema, type ExtractBatchResult, stepErrorText } from '../../statemachine/contracts.ts';
import { RunArtifactError } from '../shared/errors.ts';
import type { FailureRecord } from '../shared/failures.ts';
import { parseJsonDocument } from '../shared/json-document.ts';
import { logger } from '../shared/observability.ts';
import { batchIdOf, mapResultsPrefix } from '../shared/run-layout.ts';
import { openStorage } from '../shared/storage/open-storage.ts';
import { compareKeys, normalizePrefix, readLines, type Storage } from '../shared/storage/storage.ts';

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

const statuses = ['SUCCEEDED', 'FAILED', 'PENDING'] as const;
type Status = (typeof statuses)[number];

const resultFiles = z.array(z.object({ Key: z.string().min(1) })).default([]);
const manifestSchema = z.object({
  ResultFiles: z.object({ SUCCEEDED: resultFiles, FAILED: resultFiles, PENDING: resultFiles }),
});
const executionSchema = z.looseObject({
  Input: z.string().optional(),
  Output: z.string().optional(),
  Error: z.string().optional(),
  Cause: z.string().optional(),
});
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

type Execution = z.infer<typeof executionSchema>;
type Outcome = { status: 'SUCCEEDED'; batch: SucceededBatch } | { status: 'FAILED' | 'PENDING'; failures: FailureRecord[] };

/** Longest message kept from a batch's Error and Cause: enough to tell a timeout from an out-of-memory. */
const maxMessageLength = 300;

export async function readMapResults(output: Storage, outputPrefix: string, runId: string): Promise<MapResults> {
  const outcomes = new Map<string, Outcome>();
  for (const manifestKey of await manifestKeys(output, runId)) {
    const manifest = parseArtifact(manifestSchema, await output.read(manifestKey), output.locationOf(manifestKey), 'a map run manifest');
    for (const status of statuses) {
      for (const file of manifest.ResultFiles[status]) {
        const key = relativeKey(file.Key, outputPrefix, output);
        for await (const { execution, where } of executionRecords(output, key)) record(outcomes, status, execution, runId, where);
      }
    }
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

/** A result file's records, a line at a time: memory holds one record, never the file. */
async function* executionRecords(output: Storage, key: string): AsyncGenerator<{ execution: Execution; where: string }> {
  let number = 0;
  for await (const line of readLines(output, key)) {
    number++;
    if (line.trim() === '') continue;
    const where = `${output.locationOf(key)} line ${number}`;
    yield { execution: parseArtifact(executionSchema, line, where, 'a child execution'), where };
  }
}

async function manifestKeys(output: Storage, runId: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of output.list(mapResultsPrefix(runId))) {
    if (object.key.endsWith('/manifest.json')) keys.push(object.key);
  }
  return keys.sort();
}

function record(outcomes: Map<string, Outcome>, status: Status, execution: Execution, runId: string, where: string): void {
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
export function batchFailureMessage(execution: Pick<Execution, 'Error' | 'Cause'>): string {
  if (execution.Error === undefined && execution.Cause === undefined) {
    return 'never ran: the map stopped before this batch started';
  }
  const message = stepErrorText(execution);
  return message.length > maxMessageLength ? `${message.slice(0, maxMessageLength - 1)}…` : message;
}

/** Manifest keys are full bucket keys; storage keys are relative to the output location. */
function relativeKey(bucketKey: string, outputPrefix: string, output: Storage): string {
  const prefix = normalizePrefix(outputPrefix);
  if (!bucketKey.startsWith(prefix)) {
    throw new RunArtifactError(`result file ${bucketKey} is outside the output location ${output.root}`);
  }
  return bucketKey.slice(prefix.length);
}

function parseArtifact<Schema extends z.ZodType>(
  schema: Schema,
  text: Uint8Array | string | undefined,
  where: string,
  expected: string,
): z.infer<Schema> {
  return parseJsonDocument(schema, text, where, { expected, error: RunArtifactError });
}
