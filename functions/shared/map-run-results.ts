/**
 * A Distributed Map's results, read the way the ResultWriter of both maps (Extract, ReduceParts) leaves them:
 * WriterConfig Transformation NONE (each record keeps the child's Input and Output) and OutputType JSONL (one
 * record a line), see statemachine/featurize.asl.json and
 * https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html. JSON Lines are read a line
 * at a time, so a result file of any size (up to 5 GB, ~200 MB per million images) is never one string.
 * Under the ResultWriter prefix each map run writes a folder named after its id:
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
 *       "Output": "<the child's result, as JSON>", "OutputDetails": { "Included": true } }
 *   FAILED_<n>: the same records with Status FAILED (TIMED_OUT, ABORTED), and "Error" and "Cause"
 *     (for a Lambda error, Cause is the function's error as JSON: errorType, errorMessage, trace).
 *   PENDING_<n>: batches whose execution never started because the map stopped first.
 *
 * The folder is found by listing rather than from the map state's ResultWriterDetails, which a failed map
 * does not return.
 */
import { z } from 'zod';
import { RunArtifactError } from './errors.ts';
import { parseJsonDocument } from './json-document.ts';
import { normalizePrefix, readLines, type Storage } from './storage/storage.ts';

export const mapRunStatuses = ['SUCCEEDED', 'FAILED', 'PENDING'] as const;
export type MapRunStatus = (typeof mapRunStatuses)[number];

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

export type MapRunExecution = z.infer<typeof executionSchema>;

/**
 * Every child execution recorded under `resultsPrefix` (keys relative to `output`), map run by map run (a
 * redriven map has several), a record at a time: memory holds one record, never a file.
 */
export async function* mapRunExecutions(
  output: Storage,
  outputPrefix: string,
  resultsPrefix: string,
): AsyncGenerator<{ status: MapRunStatus; execution: MapRunExecution; where: string }> {
  for (const manifestKey of await manifestKeys(output, resultsPrefix)) {
    const manifest = parseArtifact(manifestSchema, await output.read(manifestKey), output.locationOf(manifestKey), 'a map run manifest');
    for (const status of mapRunStatuses) {
      for (const file of manifest.ResultFiles[status]) {
        const key = relativeKey(file.Key, outputPrefix, output);
        let number = 0;
        for await (const line of readLines(output, key)) {
          number++;
          if (line.trim() === '') continue;
          const where = `${output.locationOf(key)} line ${number}`;
          yield { status, execution: parseArtifact(executionSchema, line, where, 'a child execution'), where };
        }
      }
    }
  }
}

async function manifestKeys(output: Storage, resultsPrefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of output.list(resultsPrefix)) {
    if (object.key.endsWith('/manifest.json')) keys.push(object.key);
  }
  return keys.sort();
}

/** Manifest keys are full bucket keys; storage keys are relative to the output location. */
function relativeKey(bucketKey: string, outputPrefix: string, output: Storage): string {
  const prefix = normalizePrefix(outputPrefix);
  if (!bucketKey.startsWith(prefix)) {
    throw new RunArtifactError(`result file ${bucketKey} is outside the output location ${output.root}`);
  }
  return bucketKey.slice(prefix.length);
}

/** A map run's record or a part of one (a child's Input or Output), parsed; RunArtifactError naming where. */
export function parseArtifact<Schema extends z.ZodType>(
  schema: Schema,
  text: Uint8Array | string | undefined,
  where: string,
  expected: string,
): z.infer<Schema> {
  return parseJsonDocument(schema, text, where, { expected, error: RunArtifactError });
}
