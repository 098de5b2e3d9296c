/**
 * A run with the real model, up to publishing: the extract function over batches of sample images (keys of
 * `sampleDir`), the map's result files as AWS writes them, then the reducer, the validator and (when the run
 * passed) the publisher, as the state machine calls them for a run over a manifest of those keys.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { handler as extract } from '../../functions/extract/handler.ts';
import { handler as publish } from '../../functions/publish/handler.ts';
import { handler as validate } from '../../functions/validate/handler.ts';
import type {
  BatchEvent,
  ExtractBatchResult,
  PublishResult,
  ReduceResult,
  RunEvent,
  ValidateEvent,
  ValidationResult,
} from '../../statemachine/contracts.ts';
import { type Execution, writeResultFiles } from './map-run.ts';
import { reduceEvent } from './reduce-run.ts';
import { sampleDir } from './shared-data.ts';

const context = { functionName: 'test', awsRequestId: 'test' } as Context;

export interface RealRun {
  run: RunEvent;
  executions: Execution[];
  reduced: ReduceResult;
  validation: ValidationResult;
  /** Null when the run did not pass validation. */
  published: PublishResult | null;
}

/** Runs `batches` of sample keys into the directory `out` (the output location, prefix ''). */
export async function runWithRealModel(out: string, runId: string, batches: readonly string[][]): Promise<RealRun> {
  const location = { bucket: out, prefix: '' };
  await writeFile(join(out, 'manifest.json'), JSON.stringify(batches.flat().map((Key) => ({ Key }))));
  const executions: Execution[] = [];
  for (const batch of batches) {
    const event: BatchEvent = {
      Items: batch.map((Key) => ({ Key })),
      BatchInput: { runId, input: { bucket: sampleDir }, output: location },
    };
    executions.push({ status: 'SUCCEEDED', event, output: (await extract(event, context)) as ExtractBatchResult });
  }
  await writeResultFiles(location, runId, executions);
  const run: RunEvent = {
    runId,
    input: { bucket: sampleDir, prefix: '' },
    manifest: { bucket: out, key: 'manifest.json' },
    output: location,
    scope: { kind: 'incremental' },
    startedAt: new Date().toISOString(),
    mapError: null,
  };
  // The part moments too, as for a run that fits PCA (pca-real-run.test.ts fits on them).
  const reduced = await reduceEvent(run, undefined, true);
  const validation = (await validate(
    { ...run, toleratedFailurePercentage: 0, reduce: reduced } satisfies ValidateEvent,
    context,
  )) as ValidationResult;
  const published = validation.passed ? ((await publish({ runId, output: location }, context)) as PublishResult) : null;
  return { run, executions, reduced, validation, published };
}
