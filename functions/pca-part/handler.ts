/**
 * The pca-part Lambda: one child of the PcaParts Distributed Map, reducing one features part by the run's PCA
 * model into a staged reduced part (pca-part.ts).
 *
 * Event (ItemBatcher of one item): { Items: [PcaPlanItem], BatchInput: { runId, output: { bucket, prefix }, modelId } }.
 * Returns a PcaPartResult (small: a line of the map's results).
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { type PcaPartEvent, type PcaPartResult, pcaPartEventSchema } from '../../statemachine/contracts.ts';
import { reduceSettings } from '../shared/config.ts';
import { parseEvent } from '../shared/middleware/parse-event.ts';
import { logger, metrics } from '../shared/observability.ts';
import { decodePcaModel } from '../shared/pca/pca-model.ts';
import { pcaModelKey } from '../shared/run-layout.ts';
import { openStorage } from '../shared/storage/open-storage.ts';
import { reducePlannedPart } from './pca-part.ts';

// The reduced parts are written like the feature parts: the same FEATURIZE_ROW_GROUP_ROWS, read once.
const { rowGroupRows } = reduceSettings();

export async function pcaPart(event: PcaPartEvent): Promise<PcaPartResult> {
  const { runId, output: location, modelId } = event.BatchInput;
  const output = openStorage(location);
  const model = decodePcaModel(
    Buffer.from(await output.read(pcaModelKey(modelId))).toString('utf8'),
    output.locationOf(pcaModelKey(modelId)),
  );
  const result = await reducePlannedPart({ runId, item: event.Items[0], output, model, rowGroupRows });
  logger.info(result.staged ? 'part reduced' : 'part gone since the plan', { ...result });
  metrics.addMetric('RowsReduced', MetricUnit.Count, result.rows);
  return result;
}

export const handler = middy(pcaPart).use(injectLambdaContext(logger)).use(logMetrics(metrics)).use(parseEvent(pcaPartEventSchema));
