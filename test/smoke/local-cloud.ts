/**
 * The smoke test's cloud on this machine: fauxqs for the bucket, the real upload trigger function (its StartExecution
 * answered by the local Step Functions endpoint), and the local runner for every execution, the trigger's and the
 * prefix runs alike. The upload events are spelled as S3's notifications spell keys (form-encoded), so that the
 * trigger's key resolution is part of the path.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { S3Storage } from '../../functions/shared/storage/s3-storage.ts';
import type { StorageLocation } from '../../functions/shared/storage/storage.ts';
import { runPipeline } from '../../statemachine/local/run-pipeline.ts';
import type { RunOutcome, SmokeCloud, SmokeTarget } from '../../tools/smoke/smoke-cloud.ts';
import type { LocalS3 } from '../support/s3-server.ts';
import type { LocalStepFunctions } from '../support/sfn-server.ts';
import { formEncoded, objectCreatedRecord } from '../support/upload-events.ts';

const stateMachineArn = 'arn:aws:states:us-east-1:111122223333:stateMachine:FeaturizeSmoke-featurize';

/** As a deployment's defaults would have it. */
const target: SmokeTarget = {
  input: { bucket: 'smoke', prefix: 'images/' },
  output: { bucket: 'smoke', prefix: 'datasets/mobilenet-v2/' },
};

interface Uploaded {
  key: string;
  etag: string;
  size: number;
  time: Date;
}

export class LocalSmokeCloud implements SmokeCloud {
  private readonly s3: LocalS3;
  private readonly sfn: LocalStepFunctions;
  private readonly uploads: Uploaded[] = [];
  private prefixRuns = 0;

  constructor(s3: LocalS3, sfn: LocalStepFunctions) {
    this.s3 = s3;
    this.sfn = sfn;
  }

  async deploy(): Promise<SmokeTarget> {
    await this.s3.createBucket(target.input.bucket);
    // The trigger function's configuration, as the stack sets it.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SFN: this.sfn.endpoint,
      FEATURIZE_STATE_MACHINE_ARN: stateMachineArn,
      FEATURIZE_INPUT_BUCKET: target.input.bucket,
      FEATURIZE_INPUT_PREFIX: target.input.prefix,
      FEATURIZE_OUTPUT_BUCKET: target.output.bucket,
      FEATURIZE_OUTPUT_PREFIX: target.output.prefix,
    });
    return target;
  }

  async upload(key: string, body: Uint8Array): Promise<void> {
    const { ETag } = await this.s3.client.send(new PutObjectCommand({ Bucket: target.input.bucket, Key: key, Body: body }));
    this.uploads.push({ key, etag: (ETag ?? '').replaceAll('"', ''), size: body.length, time: new Date() });
  }

  async runPrefix(prefix: string): Promise<RunOutcome> {
    this.prefixRuns += 1;
    return this.run(`smoke-prefix-${this.prefixRuns}`, { bucket: target.input.bucket, prefix });
  }

  /** One SQS batch of the uploads' EventBridge events into the real trigger; each execution it starts, run locally. */
  async awaitUploadRuns(keys: readonly string[], since: Date): Promise<RunOutcome[]> {
    const { handler } = await import('../../functions/trigger/handler.ts');
    const events = this.uploads.filter((upload) => upload.time >= since);
    const response = (await handler(sqsBatch(events), { functionName: 'trigger', awsRequestId: 'smoke' } as Context)) as SQSBatchResponse;
    if (response.batchItemFailures.length > 0) throw new Error(`the trigger refused ${JSON.stringify(response.batchItemFailures)}`);
    const outcomes: RunOutcome[] = [];
    const started = this.sfn.requests.filter((request) => request.action === 'StartExecution');
    for (const start of started) {
      const { name, input } = start.body as { name: string; input: string };
      const { manifest } = JSON.parse(input) as { manifest: { bucket: string; key: string } };
      outcomes.push(await this.run(name, target.input, manifest));
    }
    if (outcomes.length === 0 && keys.length > 0) throw new Error('the trigger started no run');
    return outcomes;
  }

  output(): S3Storage {
    return new S3Storage(target.output.bucket, target.output.prefix);
  }

  async teardown(): Promise<void> {}

  /** One execution on the local runner, with the deployment's default batch and failure settings. */
  private async run(runId: string, input: Required<StorageLocation>, manifest?: { bucket: string; key: string }): Promise<RunOutcome> {
    const outcome = await runPipeline({
      runId,
      input,
      output: target.output,
      ...(manifest ? { manifest } : {}),
      maxItemsPerBatch: 25,
      maxConcurrency: 0,
      toleratedFailurePercentage: 5,
      workers: 1,
      env: process.env,
    });
    return {
      runId,
      status: outcome.status,
      ...(outcome.error ? { error: { error: outcome.error.Error, cause: outcome.error.Cause } } : {}),
    };
  }
}

/** S3's EventBridge "Object Created" events, one per SQS message, keys form-encoded as S3's notifications are. */
function sqsBatch(uploads: readonly Uploaded[]): SQSEvent {
  return {
    Records: uploads.map((upload, i) =>
      objectCreatedRecord({
        bucket: target.input.bucket,
        key: formEncoded(upload.key),
        etag: upload.etag,
        size: upload.size,
        time: upload.time,
        id: `smoke-${i}`,
        sequencer: (1000 + i).toString(16),
      }),
    ),
  };
}
