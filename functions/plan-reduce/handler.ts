/**
 * The plan-reduce Lambda: after the Distributed Map, groups the run's shards into the parts the ReduceParts map
 * writes, one child per part (plan-reduce.ts).
 *
 * Event (the state machine's PlanReduce state): the run's event as every step after the map gets it
 *   ({ runId, input, manifest, output, scope, startedAt, mapError }) and the runner's reduceParallelism; it uses
 *   runId, output and reduceParallelism.
 * Returns PlanReduceResult, which the state machine keeps at $.reducePlan: the plan's location for the map's
 * ItemReader, and what FinishReduce needs of the map's results.
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { type PlanReduceEvent, type PlanReduceResult, planReduceEventSchema } from '../../statemachine/contracts.ts';
import { reduceSettings } from '../shared/config.ts';
import { parseEvent } from '../shared/middleware/parse-event.ts';
import { logger, metrics } from '../shared/observability.ts';
import { openStorage } from '../shared/storage/open-storage.ts';
import { planReduce as plan } from './plan-reduce.ts';

// Read once per container: a bad setting fails the cold start, loudly.
const settings = reduceSettings();

export async function planReduce(event: PlanReduceEvent): Promise<PlanReduceResult> {
  const result = await plan(
    { runId: event.runId, output: openStorage(event.output), outputLocation: { bucket: event.output.bucket, prefix: event.output.prefix } },
    { ...settings, parallelism: event.reduceParallelism },
  );
  logger.info('reduce planned', { ...result });
  metrics.addMetric('ReduceGroups', MetricUnit.Count, result.groups);
  return result;
}

export const handler = middy(planReduce).use(injectLambdaContext(logger)).use(logMetrics(metrics)).use(parseEvent(planReduceEventSchema));
