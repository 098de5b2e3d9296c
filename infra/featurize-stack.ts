/**
 * The whole deployment, one stack, composed of constructs: the data bucket, a function per step of the state
 * machine (from statemachine/steps.ts), the state machine itself (from statemachine/featurize.asl.json), the
 * upload trigger, alarms; and the outputs the CLI and the README point at.
 */
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { featuresPrefix, manifestsPrefix, runsPrefix } from '../functions/shared/run-layout.ts';
import type { StepName } from '../statemachine/steps.ts';
import { Alarms } from './alarms.ts';
import { DataBucket } from './data-bucket.ts';
import { allow, grant, listing, uploadActions, withBucketKey } from './grants.ts';
import { LeaseTable } from './lease-table.ts';
import { PipelineStateMachine } from './pipeline-state-machine.ts';
import type { StackSettings } from './settings.ts';
import { StepFunctions } from './step-functions.ts';
import { UploadTrigger } from './upload-trigger.ts';

export interface FeaturizeStackProps extends StackProps {
  settings: StackSettings;
}

export class FeaturizeStack extends Stack {
  readonly bucket: IBucket;
  readonly functions: Record<StepName, IFunction>;
  readonly stateMachine: StateMachine;
  readonly uploadTrigger: UploadTrigger;
  readonly alarms: Alarms;

  constructor(scope: Construct, id: string, props: FeaturizeStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const { inputPrefix, outputPrefix } = settings;

    this.bucket = new DataBucket(this, 'DataBucket', settings).bucket;
    const bucket = this.bucket;
    const leases = new LeaseTable(this, 'Leases');
    this.functions = new StepFunctions(this, 'Steps', { bucket, settings, leases }).functions;
    this.stateMachine = new PipelineStateMachine(this, 'Pipeline', { bucket, settings, functions: this.functions }).stateMachine;

    this.uploadTrigger = new UploadTrigger(this, 'UploadTrigger', {
      bucket,
      inputPrefix,
      outputPrefix,
      stateMachine: this.stateMachine,
      batchWindow: Duration.seconds(settings.uploadBatchWindowSeconds),
      batchSize: settings.uploadBatchSize,
    });
    grant(
      this.uploadTrigger.function.role,
      withBucketKey(
        [
          allow(uploadActions, [bucket.arnForObjects(`${outputPrefix}${manifestsPrefix}*`)]),
          // HeadObject on an uploaded key, to tell a key sent verbatim from a form-encoded one (functions/trigger);
          // ListBucket makes S3 answer 404 rather than 403 for a key that does not exist.
          allow(['s3:GetObject'], [bucket.arnForObjects(`${inputPrefix}*`)]),
          listing(bucket, [inputPrefix]),
        ],
        settings.bucketKmsKeyArn,
      ),
    );

    this.alarms = new Alarms(this, 'Alarms', {
      stateMachine: this.stateMachine,
      deadLetterQueue: this.uploadTrigger.deadLetterQueue,
      email: settings.alarmEmail,
    });

    const s3Uri = (prefix: string) => `s3://${bucket.bucketName}/${prefix}`;
    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn });
    new CfnOutput(this, 'BucketName', { value: bucket.bucketName });
    new CfnOutput(this, 'InputUri', { value: s3Uri(inputPrefix), description: 'Uploads here start runs' });
    new CfnOutput(this, 'DatasetUri', { value: s3Uri(`${outputPrefix}${featuresPrefix}`), description: 'The Parquet dataset' });
    new CfnOutput(this, 'RunsUri', {
      value: s3Uri(`${outputPrefix}${runsPrefix}`),
      description: "Each run's report.json and failures.jsonl",
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.uploadTrigger.deadLetterQueue.queueUrl });
  }
}
