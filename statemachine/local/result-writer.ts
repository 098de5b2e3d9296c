/**
 * The ResultWriter: a Map Run's child executions exported as Step Functions exports them (s3:putObject) with
 * WriterConfig { Transformation: NONE, OutputType: JSONL } (the only one distributed-map-state.ts accepts), under
 * `<Prefix>/<map run id>/`:
 *   SUCCEEDED_0.json, FAILED_0.json (failed, timed out, aborted), PENDING_0.json (never started): JSON Lines, one
 *   execution record a line, each file written only when it has one;
 *   manifest.json: `{ DestinationBucket, MapRunArn, ResultFiles: { FAILED, PENDING, SUCCEEDED } }`, each a list
 *   of `{ Key, Size }`, written last.
 * An execution record carries its Input and Output as JSON strings, as AWS writes them.
 */

import { openStorage } from '../../functions/shared/storage/open-storage.ts';
import { ResultWriterFailedError } from './errors.ts';
import type { Json, JsonObject } from './json.ts';

export type ChildExecution =
  | { status: 'PENDING'; input: Json }
  | {
      status: 'SUCCEEDED' | 'FAILED';
      executionArn: string;
      name: string;
      stateMachineArn: string;
      input: Json;
      startDate: Date;
      stopDate: Date;
      output?: Json;
      error?: { Error: string; Cause: string };
    };

export interface MapRunIdentity {
  arn: string;
  id: string;
  /** The ItemProcessor's ProcessorConfig.ExecutionType: how a failed child can be redriven. */
  executionType: 'EXPRESS' | 'STANDARD';
}

export interface ResultWriterDetails {
  Bucket: string;
  Key: string;
}

const categories = ['SUCCEEDED', 'FAILED', 'PENDING'] as const;

/** `parameters`: the ResultWriter's Parameters, `{ Bucket, Prefix }`, evaluated against the Map state's input. */
export async function writeResults(
  parameters: JsonObject,
  mapRun: MapRunIdentity,
  children: readonly ChildExecution[],
): Promise<ResultWriterDetails> {
  const bucket = String(parameters.Bucket);
  const prefix = typeof parameters.Prefix === 'string' ? parameters.Prefix.replace(/\/+$/, '') : '';
  const base = prefix === '' ? `${mapRun.id}/` : `${prefix}/${mapRun.id}/`;
  try {
    const storage = openStorage({ bucket });
    const resultFiles: Record<string, JsonObject[]> = {};
    for (const category of categories) {
      const records = children.filter((child) => child.status === category).map((child) => executionRecord(child, mapRun.executionType));
      resultFiles[category] = [];
      if (records.length === 0) continue;
      const key = `${base}${category}_0.json`;
      const body = jsonLines(records);
      await storage.write(key, body);
      resultFiles[category].push({ Key: key, Size: Buffer.byteLength(body) });
    }
    const manifest = { DestinationBucket: bucket, MapRunArn: mapRun.arn, ResultFiles: resultFiles };
    await storage.write(`${base}manifest.json`, JSON.stringify(manifest));
    return { Bucket: bucket, Key: `${base}manifest.json` };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ResultWriterFailedError(`the ResultWriter could not write to ${bucket}: ${reason}`, { cause: error });
  }
}

/** OutputType JSONL: one record a line, each line ended by `\n`. */
export function jsonLines(records: readonly object[]): string {
  return records.map((record) => `${JSON.stringify(record)}\n`).join('');
}

function executionRecord(child: ChildExecution, executionType: MapRunIdentity['executionType']): JsonObject {
  const input = JSON.stringify(child.input);
  if (child.status === 'PENDING') return { Input: input, InputDetails: { Included: true }, Status: 'PENDING' };
  return {
    ...(child.error ?? {}),
    ExecutionArn: child.executionArn,
    Input: input,
    InputDetails: { Included: true },
    Name: child.name,
    ...(child.output !== undefined ? { Output: JSON.stringify(child.output), OutputDetails: { Included: true } } : {}),
    RedriveCount: 0,
    // A failed EXPRESS child can only run again through a redrive of its whole Map Run.
    ...(child.status === 'SUCCEEDED'
      ? { RedriveStatus: 'NOT_REDRIVABLE', RedriveStatusReason: 'Execution is SUCCEEDED and cannot be redriven' }
      : { RedriveStatus: executionType === 'EXPRESS' ? 'REDRIVABLE_BY_MAP_RUN' : 'REDRIVABLE' }),
    StartDate: child.startDate.toISOString(),
    StateMachineArn: child.stateMachineArn,
    Status: child.status,
    StopDate: child.stopDate.toISOString(),
  };
}
