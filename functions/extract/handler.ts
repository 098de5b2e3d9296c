/**
 * The extraction Lambda (container image): one Distributed Map batch in, one shard out.
 *
 * Event, as the map's ItemBatcher delivers it:
 *   { Items: [{ Key, Size?, Etag?, ... }], BatchInput: { runId, input: { bucket }, output: { bucket, prefix } } }
 * Items' keys are relative to the input bucket (S3 listObjectsV2 keys). Returns ExtractBatchResult.
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { type BatchEvent, batchEventSchema, type ExtractBatchResult } from '../../statemachine/contracts.ts';
import { extractionSettings } from '../shared/config.ts';
import { parseEvent } from '../shared/middleware/parse-event.ts';
import { featureEngine } from '../shared/model/engine-factory.ts';
import { logger, metrics } from '../shared/observability.ts';
import { openStorage } from '../shared/storage/open-storage.ts';
import { unquoteEtag } from '../shared/storage/s3-storage.ts';
import { extractBatch } from './extract-batch.ts';

// Read once per container: a bad setting fails the cold start, loudly.
const settings = extractionSettings();
// Started at init, awaited per batch: the model loads once per container (or worker thread).
const engine = featureEngine(settings.engine, settings.modelDir);
/** The init work still running after the import: the local worker pool ends a thread only once it has settled. */
export const coldStart = engine;

export async function extract(event: BatchEvent): Promise<ExtractBatchResult> {
  const { runId, input, output } = event.BatchInput;
  const result = await extractBatch(
    {
      runId,
      items: event.Items.map((item) => ({
        key: item.Key,
        ...(item.Size !== undefined ? { size: item.Size } : {}),
        ...(item.Etag ? { etag: unquoteEtag(item.Etag) } : {}),
      })),
      input: openStorage({ bucket: input.bucket }),
      output: openStorage(output),
    },
    await engine,
    {
      preprocess: { resize: settings.resize, maxPixels: settings.maxPixels },
      maxBytes: settings.maxBytes,
      inferenceBatchSize: settings.inferenceBatchSize,
      readConcurrency: settings.readConcurrency,
    },
  );
  logger.info('batch extracted', { ...result });
  metrics.addMetric('ImagesExtracted', MetricUnit.Count, result.vectors);
  metrics.addMetric('ImagesFailed', MetricUnit.Count, result.failures);
  metrics.addMetric('InferenceMillisPerImage', MetricUnit.Milliseconds, result.millis.inference / Math.max(1, result.vectors));
  return result;
}

export const handler = middy(extract).use(injectLambdaContext(logger)).use(logMetrics(metrics)).use(parseEvent(batchEventSchema));
