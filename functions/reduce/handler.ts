/**
 * The reduce Lambda: after the Distributed Map, compacts the run's shards into staged Parquet parts
 * (runs/<runId>/parts/) and writes its failure records; features/ is left to the publish step.
 *
 * Event (the state machine's Reduce state): { runId, input: { bucket, prefix }, manifest: { bucket, key } | null,
 *   output: { bucket, prefix }, mapError: { Error, Cause } | null }: the run's settings as every step after the
 *   map gets them; the reducer uses runId and output.
 * Returns ReduceResult, which the state machine keeps at $.reduce and hands to the validator.
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { type ReduceResult, type RunEvent, runEventSchema } from '../../statemachine/contracts.ts';
import { reduceSettings } from '../shared/config.ts';
import { parseEvent } from '../shared/middleware/parse-event.ts';
import { logger, metrics } from '../shared/observability.ts';
import { openStorage } from '../shared/storage/open-storage.ts';
import { reduceRun } from './reduce-run.ts';

// Read once per container: a bad setting fails the cold start, loudly.
const settings = reduceSettings();

export async function reduce(event: RunEvent): Promise<ReduceResult> {
  const result = await reduceRun(
    {
      runId: event.runId,
      input: openStorage({ bucket: event.input.bucket }),
      output: openStorage(event.output),
      startedAt: event.startedAt,
      outputPrefix: event.output.prefix,
    },
    settings,
  );
  logger.info('run reduced', { ...result, parts: result.parts.length });
  metrics.addMetric('RowsWritten', MetricUnit.Count, result.rows);
  metrics.addMetric('FailuresRecorded', MetricUnit.Count, result.failures);
  metrics.addMetric('PartsWritten', MetricUnit.Count, result.parts.length);
  return result;
}

export const handler = middy(reduce).use(injectLambdaContext(logger)).use(logMetrics(metrics)).use(parseEvent(runEventSchema));
