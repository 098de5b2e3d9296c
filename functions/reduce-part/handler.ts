/**
 * The reduce-part Lambda: one child of the ReduceParts Distributed Map, compacting one group of the run's shards
 * into one staged Parquet part (runs/<runId>/parts/) and writing the group's counts and failure records under
 * runs/<runId>/reduce/ for FinishReduce (reduce-part.ts).
 *
 * Event (ItemBatcher of one item): { Items: [ReduceGroup], BatchInput: { runId, input: { bucket },
 *   output: { bucket, prefix }, startedAt, pca } }; when pca is a fit, the part's scatter moments are written too.
 * Returns the group's ReducePartStats (small: the map's ResultWriter records it; FinishReduce reads the copy
 * the function wrote).
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { type ReducePartEvent, type ReducePartStats, reducePartEventSchema } from '../../statemachine/contracts.ts';
import { reduceSettings } from '../shared/config.ts';
import { parseEvent } from '../shared/middleware/parse-event.ts';
import { logger, metrics } from '../shared/observability.ts';
import { openStorage } from '../shared/storage/open-storage.ts';
import { reduceGroup } from './reduce-part.ts';

// Read once per container: a bad setting fails the cold start, loudly.
const settings = reduceSettings();

export async function reducePart(event: ReducePartEvent): Promise<ReducePartStats> {
  const { runId, input, output, startedAt, pca } = event.BatchInput;
  const stats = await reduceGroup(
    {
      runId,
      group: event.Items[0],
      input: openStorage({ bucket: input.bucket }),
      output: openStorage(output),
      startedAt,
      moments: pca !== null && 'fit' in pca,
    },
    settings,
  );
  logger.info('part reduced', { ...stats });
  metrics.addMetric('RowsWritten', MetricUnit.Count, stats.rows);
  metrics.addMetric('FailuresRecorded', MetricUnit.Count, stats.failures);
  return stats;
}

export const handler = middy(reducePart).use(injectLambdaContext(logger)).use(logMetrics(metrics)).use(parseEvent(reducePartEventSchema));
