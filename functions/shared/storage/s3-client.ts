/**
 * One S3 client per process (Lambda container reuse), shared by every S3Storage and the upload trigger. The SDK
 * reads the endpoint from AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL; S3-compatible stores (MinIO, fauxqs) then need
 * path-style addressing.
 */
import { S3Client } from '@aws-sdk/client-s3';

let sharedClient: S3Client | undefined;
export function s3Client(): S3Client {
  const customEndpoint = Boolean(process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL);
  sharedClient ??= new S3Client({ forcePathStyle: customEndpoint });
  return sharedClient;
}
