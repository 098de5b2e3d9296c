/**
 * The data bucket: images in under the input prefix, the dataset and the runs out under the output prefix. A new
 * bucket (private, encrypted, logged, its intermediates expiring), or one the user already has.
 */
import { Annotations, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type CfnBucket,
  type IBucket,
  ObjectOwnership,
  PartitionDateSource,
  TargetObjectKeyFormat,
} from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { intermediateTags, runsPrefix } from '../functions/shared/run-layout.ts';
import { acknowledge } from './nag.ts';
import type { StackSettings } from './settings.ts';

export class DataBucket extends Construct {
  readonly bucket: IBucket;

  constructor(scope: Construct, id: string, settings: StackSettings) {
    super(scope, id);
    this.bucket = settings.bucketName ? this.existingBucket(settings) : this.newBucket(settings);
  }

  private newBucket(settings: StackSettings): IBucket {
    const accessLogs = new Bucket(this, 'AccessLogs', {
      // Log delivery supports SSE-S3 only.
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'ExpireAccessLogs', expiration: Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(accessLogs, 'AwsSolutions-S1', 'This is the access-log bucket: logging it would log its own log deliveries.');
    const bucket = new Bucket(this, 'Data', {
      // SSE-S3, not KMS: at Distributed Map concurrency every shard read and write would also be a KMS request
      // (cost, and the KMS request quota as a throttle), every role would need kms:Decrypt, and the data (fruit
      // photos and their feature vectors) needs no key separation. Switch to KMS with bucket keys if yours does.
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Unversioned: every output is derived (re-run the pipeline to rebuild it), and retried batches overwrite
      // their shards while incremental runs replace Parquet parts; versioning would keep each as a billed
      // noncurrent version. Inputs worth protecting belong in a versioned bucket of their owner's.
      versioned: false,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'data/',
      // Date-partitioned log keys: Athena can query a day of access logs without scanning them all.
      targetObjectKeyFormat: TargetObjectKeyFormat.partitionedPrefix(PartitionDateSource.EVENT_TIME),
      lifecycleRules: [
        // Lifecycle filters take a literal prefix and tags, no wildcard (runs/*/shards/): the extract function
        // tags every shard it writes, the reducer every part it stages, and nothing else under runs/ carries the
        // tag. One rule per output prefix a run may write.
        ...settings.outputPrefixes.map((prefix, index) => ({
          id: index === 0 ? 'ExpireIntermediates' : `ExpireIntermediates${index}`,
          prefix: `${prefix}${runsPrefix}`,
          tagFilters: intermediateTags,
          expiration: Duration.days(settings.intermediateExpirationDays),
        })),
        { id: 'AbortIncompleteUploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      // The dataset outlives the stack: `cdk destroy` leaves the bucket (see the README's Teardown).
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // EventBridge notifications set on the bucket resource itself: `eventBridgeEnabled: true` would add a custom
    // resource (a Lambda function) to do what CloudFormation does natively.
    (bucket.node.defaultChild as CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };
    return bucket;
  }

  /** A bucket the user owns: only its event notifications change (EventBridge on); lifecycle stays theirs. */
  private existingBucket(settings: StackSettings): IBucket {
    const bucket = Bucket.fromBucketName(this, 'Data', settings.bucketName as string);
    // CDK's notifications custom resource, unmanaged for a bucket the stack does not own: it adds EventBridge to
    // the bucket's notification configuration and keeps whatever else is there.
    bucket.enableEventBridgeNotification();
    const handler = Stack.of(this).node.children.find((child) => child.node.id.startsWith('BucketNotificationsHandler'));
    if (handler) {
      acknowledge(
        handler,
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        "CDK's own BucketNotificationsHandler (the only way to change an existing bucket's notifications from a " +
          'stack) comes with this role; it writes its logs and nothing else with it.',
      );
    }
    Annotations.of(this).addWarning(
      `Existing bucket ${settings.bucketName}: add a lifecycle rule yourself, expiring objects under ` +
        `${settings.outputPrefixes.map((prefix) => `${prefix}${runsPrefix}`).join(', ')} tagged ${JSON.stringify(intermediateTags)} after ${settings.intermediateExpirationDays} ` +
        'days (the intermediate shards and staged parts); a stack cannot change the lifecycle of a bucket it does not own.',
    );
    return bucket;
  }
}
