/**
 * A run's failure records, `runs/<runId>/failures.jsonl`: one `{ path, code, message }` per line. The reducer
 * writes them; the validator reconciles them with the inputs, and the publisher takes the images they name out
 * of older parts (a re-uploaded image that now fails must not keep its stale vector). Both read them strictly:
 * a line that is not JSON is a RunArtifactError, never a record quietly skipped.
 */
import { RunArtifactError } from './errors.ts';
import type { FailureRecord } from './failures.ts';
import { failuresKey } from './run-layout.ts';
import { readLines, type Storage } from './storage/storage.ts';

export async function writeFailureRecords(output: Storage, runId: string, failures: readonly FailureRecord[]): Promise<void> {
  await output.write(failuresKey(runId), failures.map((failure) => `${JSON.stringify(failure)}\n`).join(''));
}

/** The records a line at a time: memory holds one record, whatever the run's size. */
export async function* failureRecords(output: Storage, runId: string): AsyncGenerator<FailureRecord> {
  let number = 0;
  for await (const line of readLines(output, failuresKey(runId))) {
    number++;
    if (line === '') continue;
    try {
      yield JSON.parse(line) as FailureRecord;
    } catch (error) {
      throw new RunArtifactError(`${output.locationOf(failuresKey(runId))} line ${number} is not JSON`, { cause: error });
    }
  }
}

export async function readFailureRecords(output: Storage, runId: string): Promise<FailureRecord[]> {
  return Array.fromAsync(failureRecords(output, runId));
}
