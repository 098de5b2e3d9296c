/**
 * The upload trigger (SQS event source over EventBridge's S3 "Object Created" events): each batch of messages
 * becomes one manifest and one execution (see start-run.ts). A record that is not a valid upload under the
 * input prefix fails alone (partial batch response) and, after its retries, lands in the dead-letter queue; a
 * failure to look the keys up (HeadObject), to write the manifest or to start the execution fails the batch,
 * which SQS delivers again. Hidden files and folder markers are skipped and counted (metric UploadsSkipped).
 */

import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SFNClient } from '@aws-sdk/client-sfn';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { triggerSettings } from '../shared/config.ts';
import { parseEvent } from '../shared/middleware/parse-event.ts';
import { logger, metrics } from '../shared/observability.ts';
import { openStorage } from '../shared/storage/open-storage.ts';
import { s3Client } from '../shared/storage/s3-client.ts';
import { headObjectIn } from './event-keys.ts';
import { parseUpload, resolveUploads, startIncrementalRun, type Upload } from './start-run.ts';

/** The SQS envelope only: each body is checked on its own, so that one bad record fails alone. */
export const sqsEventSchema = z.object({
  Records: z.array(z.looseObject({ messageId: z.string().min(1), body: z.string() })).min(1),
});

// Read once per container: a missing setting fails the cold start, loudly.
const settings = triggerSettings();
const sfn = new SFNClient({});
const outputStorage = openStorage(settings.output);
const headInput = headObjectIn(s3Client(), settings.input.bucket);
const processor = new BatchProcessor(EventType.SQS);

export async function trigger(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  const uploads: Upload[] = [];
  const response = await processPartialResponse(
    event,
    (record: SQSRecord) => {
      uploads.push(parseUpload(record.body, settings.input));
    },
    processor,
    { context },
  );
  processor.failureMessages.forEach((record, i) => {
    logger.warn('record refused', { messageId: (record as SQSRecord).messageId, reason: processor.errors[i]?.message });
  });
  const batch = await resolveUploads(uploads, settings.input.prefix, headInput);
  const decoded = batch.uploads.filter((upload) => upload.eventKey !== undefined);
  if (decoded.length > 0) {
    logger.info('event keys URL-decoded to find their objects', {
      keys: decoded.slice(0, 20).map((upload) => ({ eventKey: upload.eventKey, key: upload.key })),
      count: decoded.length,
    });
  }
  if (batch.notFound.length > 0) {
    logger.warn('uploads no longer in the bucket under either spelling of their key: the run will record them', {
      keys: batch.notFound.slice(0, 20),
      count: batch.notFound.length,
    });
  }
  if (batch.skipped.length > 0)
    logger.info('uploads skipped: no images', { skipped: batch.skipped.slice(0, 20), count: batch.skipped.length });
  metrics.addMetric('UploadsSkipped', MetricUnit.Count, batch.skipped.length);
  if (batch.uploads.length > 0) {
    const run = await startIncrementalRun(batch.uploads, {
      sfn,
      stateMachineArn: settings.stateMachineArn,
      outputStorage,
      output: settings.output,
    });
    logger.info(run.alreadyStarted ? 'batch already started: redelivery ignored' : 'run started', { ...run });
  }
  return response;
}

export const handler = middy(trigger).use(injectLambdaContext(logger)).use(logMetrics(metrics)).use(parseEvent(sqsEventSchema));
