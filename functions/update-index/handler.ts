/**
 * The index Lambda (container image: LanceDB is native): after a run is published, when the run's `index`
 * setting is true, updates <output>/index/ to match features/ (update-index.ts).
 *
 * Event (the UpdateIndex state's Parameters): { runId, output: { bucket, prefix } }.
 * Returns UpdateIndexResult, which the state machine keeps at $.indexResult; a failure is caught there as
 * $.indexError and fails nothing.
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { type UpdateIndexEvent, type UpdateIndexResult, updateIndexEventSchema } from '../../statemachine/contracts.ts';
import { parseEvent } from '../shared/middleware/parse-event.ts';
import { logger, metrics } from '../shared/observability.ts';
import { updateDatasetIndex } from './update-index.ts';

export async function updateIndex(
  event: UpdateIndexEvent,
  context?: Pick<Context, 'memoryLimitInMB' | 'getRemainingTimeInMillis'>,
): Promise<UpdateIndexResult> {
  // The function's memory setting (MB, compared as MiB: the build's bound has a margin), which also gives its
  // vCPUs, and the invocation's time left; locally memory 0: no limit.
  const memoryLimitMiB = Number(context?.memoryLimitInMB) || undefined;
  const result = await updateDatasetIndex(event, { memoryLimitMiB, remainingMs: context && (() => context.getRemainingTimeInMillis()) });
  logger.info(`index ${result.action}`, { runId: event.runId, ...result });
  metrics.addMetric('IndexedImages', MetricUnit.Count, result.rows);
  return result;
}

export const handler = middy(updateIndex).use(injectLambdaContext(logger)).use(logMetrics(metrics)).use(parseEvent(updateIndexEventSchema));
