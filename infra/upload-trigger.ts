/**
 * Automatic runs on upload: S3 "Object Created" events under the input prefix (EventBridge) -> an SQS queue,
 * read in batches (a batching window) by the trigger function, which writes a manifest of the batch's keys and
 * starts one execution for it. Poison messages end in a dead-letter queue.
 *
 * The rule matches the input prefix only; the outputs (features/, runs/, manifests/ under the output
 * prefix) never overlap it (settings.ts refuses overlapping prefixes), so the pipeline cannot trigger itself.
 */
import { Duration } from 'aws-cdk-lib';
import { Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { nodeFunction } from './functions.ts';
import { acknowledge } from './nag.ts';

export interface UploadTriggerProps {
  bucket: IBucket;
  inputPrefix: string;
  outputPrefix: string;
  stateMachine: IStateMachine;
  /** How long the event source gathers messages before invoking the trigger (one execution per batch). */
  batchWindow: Duration;
  batchSize: number;
}

/** A message failing this many times (a malformed event, a persistent error) moves to the dead-letter queue. */
export const maxReceiveCount = 5;

const triggerTimeout = Duration.seconds(60);

export class UploadTrigger extends Construct {
  readonly rule: Rule;
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly function: NodejsFunction;

  constructor(scope: Construct, id: string, props: UploadTriggerProps) {
    super(scope, id);

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(
      this.deadLetterQueue,
      'AwsSolutions-SQS3',
      'This is the dead-letter queue (of the upload queue and of the rule target); an alarm watches it.',
    );
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // AWS's advice for a Lambda event source: six times the function timeout, plus the batching window.
      visibilityTimeout: Duration.seconds(6 * triggerTimeout.toSeconds() + props.batchWindow.toSeconds()),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
    });

    this.rule = new Rule(this, 'InputObjectCreated', {
      description: `New objects under s3://${props.bucket.bucketName}/${props.inputPrefix} start featurize runs`,
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [props.bucket.bucketName] },
          object: { key: [{ prefix: props.inputPrefix }] },
        },
      },
    });
    // Events EventBridge cannot deliver to the queue (after its retries) are kept in the same dead-letter queue.
    this.rule.addTarget(new SqsQueue(this.queue, { deadLetterQueue: this.deadLetterQueue }));

    this.function = nodeFunction(this, 'Function', 'functions/trigger/handler.ts', {
      description: 'Starts a featurize run over each batch of uploaded keys (manifest + StartExecution)',
      memorySize: 256,
      timeout: triggerTimeout,
      environment: {
        FEATURIZE_STATE_MACHINE_ARN: props.stateMachine.stateMachineArn,
        FEATURIZE_INPUT_BUCKET: props.bucket.bucketName,
        FEATURIZE_INPUT_PREFIX: props.inputPrefix,
        FEATURIZE_OUTPUT_BUCKET: props.bucket.bucketName,
        FEATURIZE_OUTPUT_PREFIX: props.outputPrefix,
      },
    });
    this.function.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: props.batchSize,
        maxBatchingWindow: props.batchWindow,
        // One bad record fails alone (partial batch response), not the whole batch.
        reportBatchItemFailures: true,
        // Two concurrent pollers at most: fewer, larger batches, hence fewer and larger runs.
        maxConcurrency: 2,
      }),
    );
    props.stateMachine.grantStartExecution(this.function);
  }
}
