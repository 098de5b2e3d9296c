/**
 * The audit-part Lambda: the second state of a ReduceParts child, after ReducePart. Reads the group's staged part
 * back with an independent reader, lists the group's range of the input anew, and writes the group's audit under
 * runs/<runId>/reduce/audits/ for Validate (audit-part.ts).
 *
 * Event: the child's input, as ReducePart takes it: { Items: [ReduceGroup], BatchInput: { runId, input, manifest,
 *   output, scope, startedAt } }.
 * Returns a PartAuditSummary (small: a line of the map's results; Validate reads the audit the function wrote).
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { type PartAuditSummary, type ReducePartEvent, reducePartEventSchema } from '../../statemachine/contracts.ts';
import { validationModelDir } from '../shared/config.ts';
import { parseEvent } from '../shared/middleware/parse-event.ts';
import { defaultVectorShape, loadModelDescriptor } from '../shared/model/model-descriptor.ts';
import { logger, metrics } from '../shared/observability.ts';
import { openStorage } from '../shared/storage/open-storage.ts';
import { auditPart } from './audit-part.ts';

const modelDir = validationModelDir();

export async function auditPartEvent(event: ReducePartEvent): Promise<PartAuditSummary> {
  const { runId, input, manifest, output, scope } = event.BatchInput;
  const audit = await auditPart(
    { runId, group: event.Items[0], output: openStorage(output), input, manifest, scope },
    modelDir ? await loadModelDescriptor(modelDir) : defaultVectorShape,
  );
  const listed = audit.listed === null ? null : Object.values(audit.listed).reduce((sum, [count]) => sum + count, 0);
  const summary: PartAuditSummary = { runId, index: audit.index, rows: audit.rows, millis: audit.millis, listed };
  logger.info('part audited', { ...summary });
  metrics.addMetric('RowsAudited', MetricUnit.Count, audit.rows);
  return summary;
}

export const handler = middy(auditPartEvent)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .use(parseEvent(reducePartEventSchema));
