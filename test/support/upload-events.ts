/**
 * Upload events as the trigger function receives them: S3's EventBridge "Object Created" event
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html), one per SQS message.
 */
import type { SQSRecord } from 'aws-lambda';

export interface UploadEvent {
  bucket: string;
  /** The key as the event spells it (see formEncoded). */
  key: string;
  etag: string;
  size: number;
  time: Date;
  /** Message and event id. */
  id: string;
  sequencer?: string;
}

export function objectCreatedRecord(event: UploadEvent): SQSRecord {
  const body = {
    version: '0',
    id: event.id,
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '111122223333',
    time: event.time.toISOString().replace(/\.\d+Z$/, 'Z'),
    region: 'us-east-1',
    resources: [`arn:aws:s3:::${event.bucket}`],
    detail: {
      version: '0',
      bucket: { name: event.bucket },
      object: { key: event.key, size: event.size, etag: event.etag, sequencer: event.sequencer ?? '0062E99A88DC407470' },
      reason: 'PutObject',
    },
  };
  return {
    messageId: event.id,
    receiptHandle: `AQEB${event.id}`,
    body: JSON.stringify(body),
    attributes: {} as SQSRecord['attributes'],
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:111122223333:Featurize-UploadTriggerQueue',
    awsRegion: 'us-east-1',
  };
}

/** S3's notification spelling of a key: an HTML form's URL encoding (space as `+`, `+` as `%2B`), slashes kept. */
export const formEncoded = (key: string) => new URLSearchParams({ k: key }).toString().slice(2).replaceAll('%2F', '/');

/** LocalStack's spelling of EventBridge keys (Python's `quote`): percent-encoding, space as %20. */
export const percentEncoded = (key: string) => key.split('/').map(encodeURIComponent).join('/');
