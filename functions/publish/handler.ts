/**
 * The publish Lambda: after a run passed validation, makes its audited parts part of the dataset (features/)
 * and takes out what they replace (see publish-run.ts).
 *
 * Event (the state machine's Publish state): { runId, output: { bucket, prefix } }. What to publish, and how
 * (full or incremental), comes from the validator's runs/<runId>/report.json, which must say the run passed
 * (read-audit.ts): the function publishes exactly what was audited, whoever invokes it.
 * Returns PublishResult, which the state machine keeps at $.publish.
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { type PublishEvent, type PublishResult, publishEventSchema } from '../../statemachine/contracts.ts';
import { leaseSettings, reduceSettings } from '../shared/config.ts';
import { leaseStoreFor } from '../shared/dataset/publish-lease.ts';
import { parseEvent } from '../shared/middleware/parse-event.ts';
import { logger, metrics } from '../shared/observability.ts';
import { openStorage } from '../shared/storage/open-storage.ts';
import { publishRun } from './publish-run.ts';
import { readAudit } from './read-audit.ts';

// Rewritten parts are written like the reducer's (the same FEATURIZE_ROW_GROUP_ROWS), read once per container.
const { rowGroupRows, readConcurrency } = reduceSettings();
const { leaseSeconds } = leaseSettings();

export async function publish(event: PublishEvent): Promise<PublishResult> {
  const output = openStorage(event.output);
  const audit = await readAudit(output, event.runId);
  const lease = await leaseStoreFor(output);
  const result = await publishRun(
    { runId: event.runId, output, ...audit, lease },
    { rowGroupRows, readConcurrency, leaseMs: leaseSeconds * 1000 },
  );
  logger.info('run published', { ...result, parts: result.parts.length });
  metrics.addMetric('PartsPublished', MetricUnit.Count, result.parts.length);
  metrics.addMetric('PartsRemoved', MetricUnit.Count, result.removedParts);
  metrics.addMetric('PartsRewritten', MetricUnit.Count, result.rewrittenParts);
  if (result.repaired) logger.warn('an interrupted publish was finished first', { run: result.repaired });
  return result;
}

export const handler = middy(publish).use(injectLambdaContext(logger)).use(logMetrics(metrics)).use(parseEvent(publishEventSchema));
