/**
 * The upload trigger (SQS event source over EventBridge's S3 "Object Created" events): each batch of messages
 * becomes one manifest and one execution (see start-run.ts). A record that is not a valid upload under the
 * input prefix fails alone (partial batch response) and, after its retries, lands in the dead-letter queue; a
 * failure to write the manifest or to start the execution fails the batch, which SQS delivers again.
 */

import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SFNClient } from '@aws-sdk/client-sfn';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { triggerSettings } from '../shared/config.ts';
import { parseEvent } from '../shared/middleware/parse-event.ts';
import { logger } from '../shared/observability.ts';
import { openStorage } from '../shared/storage/open-storage.ts';
import { parseUpload, startIncrementalRun, type Upload } from './start-run.ts';

/** The SQS envelope only: each body is checked on its own, so that one bad record fails alone. */
export const sqsEventSchema = z.object({
  Records: z.array(z.looseObject({ messageId: z.string().min(1), body: z.string() })).min(1),
});

// Read once per container: a missing setting fails the cold start, loudly.
const settings = triggerSettings();
const sfn = new SFNClient({});
const outputStorage = openStorage(settings.output);
const processor = new BatchProcessor(EventType.SQS);

export async function trigger(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  const uploads: Upload[] = [];
  const response = await processPartialResponse(
    event,
    (record: SQSRecord) => {
      const upload = parseUpload(record.body, settings.input);
      if (upload) uploads.push(upload);
    },
    processor,
    { context },
  );
  processor.failureMessages.forEach((record, i) => {
    logger.warn('record refused', { messageId: (record as SQSRecord).messageId, reason: processor.errors[i]?.message });
  });
  if (uploads.length > 0) {
    const run = await startIncrementalRun(uploads, {
      sfn,
      stateMachineArn: settings.stateMachineArn,
      outputStorage,
      output: settings.output,
    });
    logger.info(run.alreadyStarted ? 'batch already started: redelivery ignored' : 'run started', { ...run });
  }
  return response;
}

export const handler = middy(trigger).use(injectLambdaContext(logger)).use(parseEvent(sqsEventSchema));
