import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reduceMapFailure } from '../../functions/finish-reduce/reduce-map-failure.ts';
import { reduceMapResultsPrefix } from '../../functions/shared/run-layout.ts';
import { openStorage } from '../../functions/shared/storage/open-storage.ts';
import { type ChildExecution, writeResults } from '../../statemachine/local/result-writer.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'reduce-map-failure-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mapError = { Error: 'States.ExceedToleratedFailureThreshold', Cause: 'The specified tolerated failure threshold was exceeded' };

/** A ReduceParts child as the local runner's ResultWriter records it: its one group, its outcome. */
function child(index: number, outcome: 'SUCCEEDED' | 'PENDING' | { Error: string; Cause: string }): ChildExecution {
  const input = { Items: [{ index, shards: [] }], BatchInput: { runId: 'r' } };
  if (outcome === 'PENDING') return { status: 'PENDING', input };
  const execution = {
    executionArn: `arn:${index}`,
    name: `${index}`,
    stateMachineArn: 'arn:m',
    input,
    startDate: new Date(),
    stopDate: new Date(),
  };
  return outcome === 'SUCCEEDED' ? { ...execution, status: 'SUCCEEDED', output: null } : { ...execution, status: 'FAILED', error: outcome };
}

/** A map run's results under the run's ReduceParts ResultWriter prefix, as the ASL's Parameters give it. */
async function writeMapRun(bucket: string, id: string, children: ChildExecution[]): Promise<void> {
  const prefix = reduceMapResultsPrefix('r').replace(/\/$/, '');
  await writeResults({ Bucket: bucket, Prefix: prefix }, { arn: `arn:mapRun:${id}`, id, executionType: 'STANDARD' }, children);
}

describe('reduceMapFailure', () => {
  it("names the first failed group's own error (a Lambda error's message, not its trace), and how many more failed or never ran", async () => {
    const bucket = join(dir, 'failed');
    const lambdaError = {
      Error: 'RunArtifactError',
      Cause: JSON.stringify({ errorType: 'RunArtifactError', errorMessage: 'runs/r/shards/b.arrow is not a shard', trace: ['at …'] }),
    };
    const timeout = { Error: 'States.Timeout', Cause: 'Task timed out' };
    await writeMapRun(bucket, 'first', [
      child(0, 'SUCCEEDED'),
      child(1, timeout),
      child(2, lambdaError),
      child(3, timeout),
      child(4, 'PENDING'),
    ]);
    // A redrive in which group 1 succeeded: it no longer counts as failed.
    await writeMapRun(bucket, 'second', [child(1, 'SUCCEEDED')]);

    const error = await reduceMapFailure({ runId: 'r', output: openStorage({ bucket }), outputPrefix: '', groups: 5, mapError });

    expect(error.name).toBe('ReduceGroupFailedError');
    expect(error.message).toBe(
      'reduce group 2 of 5 of run r failed after its retries: RunArtifactError: runs/r/shards/b.arrow is not a shard ' +
        '(1 more group(s) failed, 1 never ran); nothing was published',
    );
  });

  it("falls back to the map's own error when no child's was recorded (the ResultWriter wrote nothing)", async () => {
    const error = await reduceMapFailure({
      runId: 'r',
      output: openStorage({ bucket: join(dir, 'empty') }),
      outputPrefix: '',
      groups: 3,
      mapError,
    });

    expect(error.message).toBe(
      "the reduce of run r failed (States.ExceedToleratedFailureThreshold: The specified tolerated failure threshold was exceeded); no child's error was recorded",
    );
  });
});
