/**
 * The finish-reduce Lambda: after the ReduceParts map, sums the groups' stats into the run's ReduceResult and
 * writes runs/<runId>/failures.jsonl (finish-reduce.ts).
 *
 * Event (the state machine's FinishReduce state): { output: { bucket, prefix }, plan: PlanReduceResult (it names
 *   the run), mapError: null }.
 * Returns ReduceResult, which the state machine keeps at $.reduce and hands to the validator.
 * After a failed ReduceParts map (the ExplainReduceFailure state: mapError set) it throws ReduceGroupFailedError
 * with the failed children's own error instead (reduce-map-failure.ts).
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { type FinishReduceEvent, finishReduceEventSchema, type ReduceResult } from '../../statemachine/contracts.ts';
import { parseEvent } from '../shared/middleware/parse-event.ts';
import { logger, metrics } from '../shared/observability.ts';
import { openStorage } from '../shared/storage/open-storage.ts';
import { finishReduce as finish } from './finish-reduce.ts';
import { reduceMapFailure } from './reduce-map-failure.ts';

export async function finishReduce(event: FinishReduceEvent): Promise<ReduceResult> {
  const output = openStorage(event.output);
  if (event.mapError) {
    const { runId, groups } = event.plan;
    throw await reduceMapFailure({ runId, output, outputPrefix: event.output.prefix, groups, mapError: event.mapError });
  }
  const result = await finish({ output, plan: event.plan });
  logger.info('run reduced', { ...result, parts: result.parts.length });
  metrics.addMetric('RowsWritten', MetricUnit.Count, result.rows);
  metrics.addMetric('FailuresRecorded', MetricUnit.Count, result.failures);
  metrics.addMetric('PartsWritten', MetricUnit.Count, result.parts.length);
  return result;
}

export const handler = middy(finishReduce)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .use(parseEvent(finishReduceEventSchema));
