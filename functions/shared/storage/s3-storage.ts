import { Readable } from 'node:stream';
import type { DeleteObjectsCommandOutput, S3Client } from '@aws-sdk/client-s3';
import { ObjectReadError, StorageUnavailableError } from '../errors.ts';
import { describeDeleteFailures, sortDeleteFailures } from './delete-failures.ts';
import { type ListOptions, normalizePrefix, type Storage, type StoredObject, type WriteBody, type WriteOptions } from './storage.ts';

/** Per-object refusals: the item becomes a failure record. Anything else is the store being unavailable. */
const perObjectErrors = new Set(['NoSuchKey', 'NotFound', 'AccessDenied', 'InvalidObjectState', 'KMS.DisabledException']);

/**
 * The SDK, imported at the first request of any S3Storage rather than with this module: a run between local
 * folders never loads it, which saves 0.2 s of CPU in each of its threads before the first image.
 */
async function importSdk() {
  const [{ CopyObjectCommand, DeleteObjectsCommand, GetObjectCommand, paginateListObjectsV2 }, { Upload }, { s3Client }] =
    await Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/lib-storage'), import('./s3-client.ts')]);
  return { CopyObjectCommand, DeleteObjectsCommand, GetObjectCommand, paginateListObjectsV2, Upload, s3Client };
}
let sdk: ReturnType<typeof importSdk> | undefined;

/** Storage in an S3 bucket, rooted at a key prefix. */
export class S3Storage implements Storage {
  readonly root: string;
  readonly bucket: string;
  readonly prefix: string;
  /** A client of its own (tests); otherwise the process's shared one (s3-client.ts). */
  private readonly ownClient: S3Client | undefined;

  constructor(bucket: string, prefix = '', client?: S3Client) {
    this.bucket = bucket;
    this.prefix = normalizePrefix(prefix);
    this.ownClient = client;
    this.root = `s3://${bucket}/${this.prefix}`;
  }

  /** The SDK's commands, and the client to send them with. */
  private async sdk() {
    sdk ??= importSdk();
    const loaded = await sdk;
    return { ...loaded, client: this.ownClient ?? loaded.s3Client() };
  }

  async *list(prefix = '', options: ListOptions = {}): AsyncIterable<StoredObject> {
    // StartAfter "can be any key in the bucket": the listing begins after it, in UTF-8 binary order
    // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html).
    const startAfter = options.startAfter === undefined ? {} : { StartAfter: this.prefix + options.startAfter };
    try {
      const { client, paginateListObjectsV2 } = await this.sdk();
      const pages = paginateListObjectsV2(
        { client },
        { Bucket: this.bucket, Prefix: this.prefix + normalizePrefix(prefix), ...startAfter },
      );
      for await (const page of pages) {
        for (const object of page.Contents ?? []) {
          if (object.Key === undefined) continue;
          yield {
            key: object.Key.slice(this.prefix.length),
            size: object.Size ?? 0,
            ...(object.ETag ? { etag: unquoteEtag(object.ETag) } : {}),
            ...(object.LastModified ? { lastModified: object.LastModified } : {}),
            ...(object.StorageClass ? { storageClass: object.StorageClass } : {}),
          };
        }
      }
    } catch (error) {
      throw new StorageUnavailableError(`cannot list ${this.root}${prefix}: ${describe(error)}`, { cause: error });
    }
  }

  read(key: string): Promise<Uint8Array> {
    return this.get(key);
  }

  /** One ranged GET; an empty range asks nothing of S3 (which refuses it). */
  async readRange(key: string, start: number, end: number): Promise<Uint8Array> {
    return end <= start ? new Uint8Array(0) : this.get(key, `bytes=${start}-${end - 1}`);
  }

  /** One GET whose body (a Node Readable in the SDK's Node runtime) is read a chunk at a time. */
  async *readStream(key: string): AsyncIterable<Uint8Array> {
    try {
      const { client, GetObjectCommand } = await this.sdk();
      const response = await client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      if (!response.Body) throw new StorageUnavailableError(`empty response body for ${this.locationOf(key)}`);
      yield* response.Body as AsyncIterable<Uint8Array>;
    } catch (error) {
      throw this.readError(key, error);
    }
  }

  private async get(key: string, range?: string): Promise<Uint8Array> {
    try {
      const { client, GetObjectCommand } = await this.sdk();
      const response = await client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, ...(range ? { Range: range } : {}) }),
      );
      if (!response.Body) throw new StorageUnavailableError(`empty response body for ${this.locationOf(key)}`);
      return await response.Body.transformToByteArray();
    } catch (error) {
      throw this.readError(key, error);
    }
  }

  private readError(key: string, error: unknown): Error {
    if (error instanceof StorageUnavailableError) return error;
    const name = errorName(error);
    if (perObjectErrors.has(name)) {
      return new ObjectReadError(key, `cannot read ${this.locationOf(key)}: ${name}`, {
        notFound: name === 'NoSuchKey' || name === 'NotFound',
        cause: error,
      });
    }
    return new StorageUnavailableError(`cannot read ${this.locationOf(key)}: ${describe(error)}`, { cause: error });
  }

  /** Multipart above 5 MiB through lib-storage (a stream of chunks too), a single PUT below; tags go with the upload itself. */
  async write(key: string, body: WriteBody, options: WriteOptions = {}): Promise<void> {
    const tagging = options.tags ? new URLSearchParams(options.tags).toString() : undefined;
    try {
      const { client, Upload } = await this.sdk();
      await new Upload({
        client,
        params: {
          Bucket: this.bucket,
          Key: this.prefix + key,
          Body: typeof body === 'string' || body instanceof Uint8Array ? body : Readable.from(body),
          ...(tagging ? { Tagging: tagging } : {}),
        },
      }).done();
    } catch (error) {
      throw new StorageUnavailableError(`cannot write ${this.locationOf(key)}: ${describe(error)}`, { cause: error });
    }
  }

  /**
   * One server-side CopyObject: the bytes stay in S3. One request copies a source of up to 5 GB; S3 refuses a
   * larger one (InvalidRequest), which would take a multipart copy (UploadPartCopy). Nothing this project
   * copies comes near: parts are capped far below (FEATURIZE_PART_ROWS, config.ts), and the refusal is an
   * ObjectReadError carrying S3's message, not a StorageUnavailableError that Step Functions would retry.
   * TaggingDirective REPLACE with no tags: a staged part's intermediate tag must not follow it into the dataset
   * (where nothing expires), and the source's tags need not be read (s3:GetObjectTagging).
   */
  async copy(fromKey: string, toKey: string): Promise<void> {
    try {
      const { client, CopyObjectCommand } = await this.sdk();
      await client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + toKey,
          CopySource: copySource(this.bucket, this.prefix + fromKey),
          TaggingDirective: 'REPLACE',
        }),
      );
    } catch (error) {
      const name = errorName(error);
      const what = `cannot copy ${this.locationOf(fromKey)} to ${this.locationOf(toKey)}`;
      if (perObjectErrors.has(name) || name === 'InvalidRequest') {
        throw new ObjectReadError(fromKey, `${what}: ${describe(error)}`, {
          notFound: name === 'NoSuchKey' || name === 'NotFound',
          cause: error,
        });
      }
      throw new StorageUnavailableError(`${what}: ${describe(error)}`, { cause: error });
    }
  }

  /**
   * DeleteObjects, 1,000 keys a request, in quiet mode: S3 answers 200 and names only the keys it could not delete
   * (delete-failures.ts). Keys that failed for a transient reason are sent again, 3 more times at most with
   * exponential backoff and full jitter, and those still failing make a StorageUnavailableError naming them (the
   * state machine retries the step; deleting is idempotent). A refusal that retrying cannot change (AccessDenied and
   * the other codes a read is refused with) is an ObjectReadError at once, naming the keys: retrying the step would
   * only spend its retries, and the error says that these objects, not the store, are the problem.
   */
  async remove(keys: string[]): Promise<void> {
    const retries = 3;
    for (let i = 0; i < keys.length; i += 1000) {
      let pending = keys.slice(i, i + 1000);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * 100 * 2 ** attempt));
        let answer: DeleteObjectsCommandOutput;
        try {
          const { client, DeleteObjectsCommand } = await this.sdk();
          const objects = pending.map((key) => ({ Key: this.prefix + key }));
          answer = await client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: objects, Quiet: true } }));
        } catch (error) {
          throw new StorageUnavailableError(`cannot delete under ${this.root}: ${describe(error)}`, { cause: error });
        }
        const { retry, refused } = sortDeleteFailures(answer.Errors ?? [], this.prefix, perObjectErrors);
        const where = (key: string) => this.locationOf(key);
        if (refused.length > 0) {
          throw new ObjectReadError(
            refused[0]!.key,
            `S3 refused to delete ${refused.length} object(s): ${describeDeleteFailures(refused, where)}`,
          );
        }
        if (retry.length > 0 && attempt === retries) {
          throw new StorageUnavailableError(
            `cannot delete ${retry.length} object(s) after ${retries + 1} attempts: ${describeDeleteFailures(retry, where)}`,
          );
        }
        pending = retry.map((failure) => failure.key);
      }
    }
  }

  locationOf(key: string): string {
    return `s3://${this.bucket}/${this.prefix}${key}`;
  }
}

/** S3 returns ETags in double quotes (also in Step Functions' listObjectsV2 items). */
export function unquoteEtag(etag: string): string {
  return etag.replace(/^"+|"+$/g, '');
}

/** CopyObject's source, `bucket/key`, URL-encoded as S3 requires (keys hold spaces, `+`, non-ASCII...). */
function copySource(bucket: string, key: string): string {
  return [bucket, ...key.split('/')].map(encodeURIComponent).join('/');
}

/** The SDK's exceptions (S3ServiceException) carry S3's error code as their name. */
function errorName(error: unknown): string {
  return (error as { name?: string })?.name ?? '';
}

function describe(error: unknown): string {
  const e = error as { name?: string; message?: string; code?: string };
  return [e.name, e.code, e.message].filter(Boolean).join(': ') || String(error);
}
