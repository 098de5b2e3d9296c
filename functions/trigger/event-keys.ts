/**
 * Which object an upload event names. S3's own event notifications URL-encode the key as an HTML form does
 * ("red flower.jpg" arrives as "red+flower.jpg", a literal `+` as `%2B`:
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html). The EventBridge
 * page (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html) does not say, and the evidence
 * disagrees: Powertools for Python form-decodes EventBridge keys (`unquote_plus`, S3EventBridgeNotificationObject
 * in aws_lambda_powertools/utilities/data_classes/s3_event.py); AWS's MediaLake guidance uses them as given after
 * testing on AWS (aws-solutions-library-samples/guidance-for-medialake-on-aws#21); LocalStack percent-encodes them
 * (`quote`, localstack/services/s3/notifications.py). So neither spelling is assumed: the key as given is used when
 * that object exists, else its form-decoded spelling, asked of S3 with HeadObject. Both exist only when a bucket
 * holds, say, `a+b.jpg` and `a b.jpg`: the event's ETag then says which one was uploaded.
 */
import { unescape as percentDecode } from 'node:querystring';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import pMap from 'p-map';
import { StorageUnavailableError } from '../shared/errors.ts';
import { unquoteEtag } from '../shared/storage/s3-storage.ts';

/**
 * How the object's key was found from the event's: `as-given` (that object exists, or decoding changes nothing),
 * `form-decoded` (the event's key was URL-encoded), `not-found` (neither spelling exists now: the object was
 * deleted since; the key is kept as given, so the run records it as a failure instead of losing it silently).
 */
export type KeySpelling = 'as-given' | 'form-decoded' | 'not-found';

export interface ResolvedKey {
  key: string;
  spelling: KeySpelling;
}

/** What HeadObject says of a key: its ETag (unquoted), or undefined when there is no such object. */
export type HeadObject = (key: string) => Promise<{ etag?: string } | undefined>;

/**
 * `application/x-www-form-urlencoded` decoding, as Python's `unquote_plus`: `+` is a space, `%XX` a UTF-8 byte.
 * A `%` not followed by two hex digits stays as it is (Node's querystring.unescape), so a key such as
 * `100%.jpg` is its own decoding.
 */
export function formDecode(key: string): string {
  return percentDecode(key.replaceAll('+', ' '));
}

/** The object an event's key names, and how it was found. `etag`: the event's, to tell two candidates apart. */
export async function resolveEventKey(eventKey: string, etag: string | undefined, head: HeadObject): Promise<ResolvedKey> {
  const decoded = formDecode(eventKey);
  if (decoded === eventKey) return { key: eventKey, spelling: 'as-given' };
  let existing: ResolvedKey | undefined;
  for (const candidate of [
    { key: eventKey, spelling: 'as-given' },
    { key: decoded, spelling: 'form-decoded' },
  ] as const) {
    const object = await head(candidate.key);
    if (!object) continue;
    if (etag === undefined || object.etag === unquoteEtag(etag)) return candidate;
    // Exists, but with other content: the object named by the other spelling may be the uploaded one.
    existing ??= candidate;
  }
  return existing ?? { key: eventKey, spelling: 'not-found' };
}

/** Each event key resolved, a few HeadObject requests at a time (a batch holds up to 10,000 events). */
export function resolveEventKeys(
  events: readonly { key: string; etag?: string }[],
  head: HeadObject,
  concurrency = 16,
): Promise<ResolvedKey[]> {
  return pMap(events, (event) => resolveEventKey(event.key, event.etag, head), { concurrency });
}

/**
 * HeadObject in `bucket`. A missing object is a 404 only to a caller allowed s3:ListBucket on the bucket; without
 * it S3 answers 403 (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html), which is refused here
 * like any other error: the batch fails and SQS delivers it again, rather than a key being guessed.
 */
export function headObjectIn(client: S3Client, bucket: string): HeadObject {
  return async (key) => {
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return head.ETag ? { etag: unquoteEtag(head.ETag) } : {};
    } catch (error) {
      const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return undefined;
      throw new StorageUnavailableError(`cannot look up s3://${bucket}/${key} (HeadObject): ${e.name ?? String(error)}`, { cause: error });
    }
  };
}
