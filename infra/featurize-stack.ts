/**
 * The whole deployment, one stack: the data bucket, the functions the state machine runs, the state
 * machine (from statemachine/featurize.asl.json), the upload trigger, alarms. Every grant is written out here,
 * scoped to the prefixes the run layout (functions/shared/run-layout.ts) gives each function.
 */
import { Annotations, ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Architecture, Code, DockerImageCode, DockerImageFunction, LayerVersion, Runtime } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
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
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import {
  failuresKey,
  featuresPrefix,
  intermediateTags,
  manifestsPrefix,
  mapResultsPrefix,
  pcaModelsPrefix,
  pcaPartitionsPrefix,
  reportHtmlKey,
  reportKey,
  runsPrefix,
  shardsPrefix,
  stagedPartsPrefix,
} from '../functions/shared/run-layout.ts';
import { placeholderNames } from '../statemachine/local/definition.ts';
import { maxInputBytesPerBatch } from '../statemachine/local/distributed-map-state.ts';
import { layerPackages, repoRoot, requireLayer, requireModel } from './assets.ts';
import { aslPath, extractRetriers, readDefinition } from './definition.ts';
import { checkedExtractTimeout } from './extract-sizing.ts';
import { commonEnvironment, functionBasics, logRetention, nodeFunction } from './functions.ts';
import { acknowledge, acknowledgeWildcardResources } from './nag.ts';
import type { StackSettings } from './settings.ts';
import { UploadTrigger } from './upload-trigger.ts';

export interface FeaturizeStackProps extends StackProps {
  settings: StackSettings;
}

/** The reducer, validator, publisher and PCA run once per run, over the whole run: Lambda's longest timeout. */
const runStepTimeout = Duration.minutes(15);

/**
 * The run layout's keys as IAM resource patterns, from functions/shared/run-layout.ts itself (any run: `*`),
 * so that a change of layout cannot leave a policy matching the old keys.
 */
const anyRun = '*';
const runKeys = {
  all: `${runsPrefix}*`,
  shards: `${shardsPrefix(anyRun)}*`,
  stagedParts: `${stagedPartsPrefix(anyRun)}*`,
  mapResults: `${mapResultsPrefix(anyRun)}*`,
  failures: failuresKey(anyRun),
  report: reportKey(anyRun),
  reportHtml: reportHtmlKey(anyRun),
};

export class FeaturizeStack extends Stack {
  readonly bucket: IBucket;
  readonly stateMachine: StateMachine;
  readonly extractFunction: DockerImageFunction;
  readonly reduceFunction: NodejsFunction;
  readonly validateFunction: NodejsFunction;
  readonly publishFunction: NodejsFunction;
  readonly pcaFunction: NodejsFunction;
  readonly reportFunction: NodejsFunction;
  readonly uploadTrigger: UploadTrigger;
  readonly alarmTopic: Topic;

  constructor(scope: Construct, id: string, props: FeaturizeStackProps) {
    super(scope, id, props);
    const settings = props.settings;
    const { inputPrefix, outputPrefix } = settings;
    const out = (path: string) => `${outputPrefix}${path}`;

    this.bucket = settings.bucketName ? this.existingBucket(settings) : this.newBucket(settings);
    const bucket = this.bucket;
    const objects = (...patterns: string[]) => patterns.map((pattern) => bucket.arnForObjects(pattern));
    const listing = (...prefixes: string[]) =>
      new PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': prefixes.map((prefix) => `${prefix}*`) } },
      });
    const allow = (actions: string[], resources: string[]) => new PolicyStatement({ actions, resources });

    // --- extract: one batch of images to one shard (container image: sharp, ONNX Runtime, tfjs-node, the model)
    // The model folder the function loads, and the engine's own artifact (build/model/<engine>/), must be built.
    requireModel(settings.modelDir.slice('/opt/model/'.length));
    requireModel(settings.engine);
    const definition = readDefinition();
    const extractTimeout = checkedExtractTimeout(settings.maxItemsPerBatch, settings.msPerImage, extractRetriers(definition));
    this.extractFunction = new DockerImageFunction(this, 'Extract', {
      description: 'One Distributed Map batch of images to one Arrow shard of MobileNetV2 feature vectors',
      code: DockerImageCode.fromImageAsset(repoRoot, {
        file: 'functions/extract/Dockerfile',
        // tfjs-node ships libtensorflow for x86_64 Linux only.
        platform: Platform.LINUX_AMD64,
      }),
      architecture: Architecture.X86_64,
      // Lambda gives CPU in proportion to memory: 3008 MB is ~1.7 vCPUs, so sharp decodes the next images on
      // libuv's threads while the engine runs inference; it also fits the reduced memory quota new accounts
      // start with (AWS raises it with use). The model and a batch's pixels need only a few hundred MB.
      memorySize: settings.extractMemoryMb,
      // From maxItemsPerBatch and msPerImage (extract-sizing.ts), refused above what the EXPRESS child allows.
      timeout: Duration.seconds(extractTimeout),
      environment: {
        FEATURIZE_ENGINE: settings.engine,
        FEATURIZE_RESIZE: settings.resize,
        FEATURIZE_MODEL_DIR: settings.modelDir,
        ...commonEnvironment,
      },
      ...functionBasics(this, 'Extract'),
    });
    this.grant(this.extractFunction.role, [
      allow(['s3:GetObject'], objects(`${inputPrefix}*`)),
      // Shards are written with their intermediate tag (for the lifecycle rule): tagging on upload needs both.
      allow(['s3:PutObject', 's3:PutObjectTagging'], objects(out(runKeys.shards))),
    ]);

    // --- reduce, validate, publish: zip functions, Parquet libraries from a layer ---------------------------
    // Write, audit, publish: reduce writes the run's parts under runs/<runId>/parts/, validate audits them there,
    // and only publish, after a passed validation, changes features/.
    const parquetLayer = new LayerVersion(this, 'ParquetLayer', {
      description: `Parquet and Arrow libraries for the zip functions (layers/parquet)`,
      code: Code.fromAsset(requireLayer('parquet')),
      compatibleRuntimes: [Runtime.NODEJS_22_X],
      compatibleArchitectures: [Architecture.ARM_64, Architecture.X86_64],
    });
    const withParquetLayer = { layers: [parquetLayer], externalModules: layerPackages('parquet') };
    this.reduceFunction = nodeFunction(this, 'Reduce', 'functions/reduce/handler.ts', {
      description: "Compacts a run's shards into Parquet parts staged under runs/<runId>/parts/ and writes its failure records",
      memorySize: settings.reduceMemoryMb,
      timeout: runStepTimeout,
      ...withParquetLayer,
    });
    this.grant(this.reduceFunction.role, [
      // The run's map results, shards and staged parts under runs/<runId>/; nothing of features/.
      listing(out(runsPrefix)),
      allow(['s3:GetObject'], objects(out(runKeys.all))),
      // Staged parts carry the intermediate tag (for the lifecycle rule): tagging on upload needs both.
      allow(['s3:PutObject', 's3:PutObjectTagging'], objects(out(runKeys.stagedParts))),
      allow(['s3:PutObject'], objects(out(runKeys.failures))),
      // Staged parts an earlier attempt wrote beyond this one's.
      allow(['s3:DeleteObject'], objects(out(runKeys.stagedParts))),
    ]);
    this.validateFunction = nodeFunction(this, 'Validate', 'functions/validate/handler.ts', {
      description: "Audits a run's staged Parquet and features/ as publishing would leave it, writes the run's report",
      memorySize: settings.validateMemoryMb,
      timeout: runStepTimeout,
      ...withParquetLayer,
    });
    this.grant(this.validateFunction.role, [
      // The input listed anew (a full run), the run's staged parts, and the dataset's parts publishing would keep.
      listing(inputPrefix, out(featuresPrefix), out(runsPrefix)),
      // Parts (ranged reads), the run's failures.jsonl, and an incremental run's manifest.
      allow(['s3:GetObject'], objects(out(`${featuresPrefix}*`), out(runKeys.all), out(`${manifestsPrefix}*`))),
      allow(['s3:PutObject'], objects(out(runKeys.report))),
    ]);

    this.publishFunction = nodeFunction(this, 'Publish', 'functions/publish/handler.ts', {
      description: "Copies a validated run's staged parts into features/, then removes or rewrites what they replace",
      memorySize: settings.publishMemoryMb,
      timeout: runStepTimeout,
      ...withParquetLayer,
    });
    this.grant(this.publishFunction.role, [
      listing(out(featuresPrefix), out(runsPrefix)),
      // The validation report (what was audited), the staged parts (copy sources, and an incremental run's paths)
      // and failure records; the dataset's parts, to find and rewrite those holding re-processed images.
      allow(['s3:GetObject'], objects(out(runKeys.report), out(runKeys.stagedParts), out(runKeys.failures), out(`${featuresPrefix}*`))),
      // Copies (CopyObject: GetObject on the source, PutObject on the target; no tags copied) and rewrites; a full
      // run removes the other runs' parts, an incremental one the parts it emptied.
      allow(['s3:PutObject', 's3:DeleteObject'], objects(out(`${featuresPrefix}*`))),
    ]);

    // --- pca and report: after publishing, each optional for the run's success ----------------------------
    this.pcaFunction = nodeFunction(this, 'Pca', 'functions/pca/handler.ts', {
      description: "Fits PCA on a run's vectors (or applies a saved model) and writes the reduced partition",
      memorySize: settings.pcaMemoryMb,
      timeout: runStepTimeout,
      ...withParquetLayer,
    });
    this.grant(this.pcaFunction.role, [
      listing(out(featuresPrefix), out(pcaPartitionsPrefix)),
      // The run's parts; the partition it rewrites; saved models (a model to apply must be under pca/).
      allow(['s3:GetObject'], objects(out(`${featuresPrefix}*`), out(`${pcaPartitionsPrefix}*`), out(`${pcaModelsPrefix}*`))),
      allow(['s3:PutObject'], objects(out(`${pcaPartitionsPrefix}*`), out(`${pcaModelsPrefix}*`))),
      // Reduced parts whose source parts a full run removed.
      allow(['s3:DeleteObject'], objects(out(`${pcaPartitionsPrefix}*`))),
    ]);
    this.reportFunction = nodeFunction(this, 'Report', 'functions/report/handler.ts', {
      description: "Renders a run's report.html: counts, failures, PCA plots",
      memorySize: settings.reportMemoryMb,
      timeout: Duration.minutes(5),
      ...withParquetLayer,
    });
    this.grant(this.reportFunction.role, [
      // Labels are counted from the run's staged parts (there whether it was published or not): nothing of features/.
      listing(out(runsPrefix), out(pcaPartitionsPrefix)),
      // The validation report, failures and staged parts of the run, a sample of its reduced points, the model.
      allow(['s3:GetObject'], objects(out(runKeys.all), out(`${pcaPartitionsPrefix}*`), out(`${pcaModelsPrefix}*`))),
      allow(['s3:PutObject'], objects(out(runKeys.reportHtml))),
    ]);

    // --- the state machine ----------------------------------------------------------------------------------
    const stateMachineName = `${this.stackName}-featurize`;
    const substitutions: Record<string, string> = {
      InputBucket: bucket.bucketName,
      InputPrefix: inputPrefix,
      OutputBucket: bucket.bucketName,
      OutputPrefix: outputPrefix,
      MaxItemsPerBatch: String(settings.maxItemsPerBatch),
      // The Map's batch input limit (256 KiB of JSON per batch): the item count limits batches first.
      MaxInputBytesPerBatch: String(maxInputBytesPerBatch),
      MaxConcurrency: String(settings.maxConcurrency),
      ToleratedFailurePercentage: String(settings.toleratedFailurePercentage),
      ExtractFunctionArn: this.extractFunction.functionArn,
      ReduceFunctionArn: this.reduceFunction.functionArn,
      ValidateFunctionArn: this.validateFunction.functionArn,
      PublishFunctionArn: this.publishFunction.functionArn,
      PcaFunctionArn: this.pcaFunction.functionArn,
      ReportFunctionArn: this.reportFunction.functionArn,
      PcaDefault: settings.pca,
    };
    const missing = placeholderNames(definition).filter((name) => !(name in substitutions));
    if (missing.length > 0) throw new Error(`${aslPath} has placeholders the stack does not fill: ${missing.join(', ')}`);

    const stateMachineLogs = new LogGroup(this, 'StateMachineLogs', {
      // The /aws/vendedlogs/ prefix keeps CloudWatch's resource policy small however many state machines log.
      logGroupName: `/aws/vendedlogs/states/${stateMachineName}`,
      retention: logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromFile(aslPath),
      definitionSubstitutions: substitutions,
      tracingEnabled: true,
      logs: {
        destination: stateMachineLogs,
        level: settings.stateMachineLogLevel === 'ALL' ? LogLevel.ALL : LogLevel.ERROR,
        includeExecutionData: true,
      },
    });
    const statesArn = (resource: string, resourceName: string) =>
      this.formatArn({ service: 'states', resource, resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    this.grant(this.stateMachine.role, [
      allow(
        ['lambda:InvokeFunction'],
        [this.extractFunction, this.reduceFunction, this.validateFunction, this.publishFunction, this.pcaFunction, this.reportFunction].map(
          (fn) => fn.functionArn,
        ),
      ),
      // ItemReader (listing): the input prefix only. ItemReader (manifest): the trigger's manifests only.
      listing(inputPrefix),
      allow(['s3:GetObject'], objects(out(`${manifestsPrefix}*`))),
      // ResultWriter: Step Functions uploads results in parts and reads them back for the map's manifest.
      allow(['s3:PutObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'], objects(out(runKeys.mapResults))),
      // Distributed Map: Step Functions starts, watches and stops this state machine's child executions, and
      // redrives a failed map run. ARNs are built from the name: the state machine cannot reference its own
      // ARN in its role's policy (a circular dependency).
      allow(['states:StartExecution'], [statesArn('stateMachine', stateMachineName)]),
      allow(['states:DescribeExecution', 'states:StopExecution'], [statesArn('execution', `${stateMachineName}:*`)]),
      allow(['states:RedriveExecution'], [statesArn('execution', `${stateMachineName}/*:*`)]),
    ]);
    acknowledge(
      this.stateMachine.role,
      'AwsSolutions-IAM5[Resource::*]',
      'CloudWatch Logs delivery (logs:CreateLogDelivery, ...) and X-Ray (xray:PutTraceSegments, ...) support no ' +
        'resource-level permissions: AWS documents these grants with Resource "*".',
    );
    if (settings.stateMachineLogLevel === 'ERROR') {
      acknowledge(
        this.stateMachine,
        'AwsSolutions-SF1',
        'ERROR, not ALL: at ALL every Distributed Map child logs its batch input (~250 keys) several times, about ' +
          '0.6 GB of logs per million images, a cost comparable to the extraction itself. Failed states are logged ' +
          'with their data; deploy with -c stateMachineLogLevel=ALL to trace every transition while debugging.',
      );
    }

    // --- automatic runs on upload -----------------------------------------------------------------------------
    this.uploadTrigger = new UploadTrigger(this, 'UploadTrigger', {
      bucket,
      inputPrefix,
      outputPrefix,
      stateMachine: this.stateMachine,
      batchWindow: Duration.seconds(settings.uploadBatchWindowSeconds),
      batchSize: settings.uploadBatchSize,
    });
    this.grant(this.uploadTrigger.function.role, [allow(['s3:PutObject'], objects(out(`${manifestsPrefix}*`)))]);

    // --- alarms -----------------------------------------------------------------------------------------------
    this.alarmTopic = new Topic(this, 'Alarms', { displayName: `${this.stackName} featurize alarms`, enforceSSL: true });
    acknowledge(
      this.alarmTopic,
      'AwsSolutions-SNS2',
      'CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS key, and the messages carry ' +
        'only alarm names and states: a customer-managed key would cost more than the data it protects.',
    );
    if (settings.alarmEmail) this.alarmTopic.addSubscription(new EmailSubscription(settings.alarmEmail));
    const alarmAction = new SnsAction(this.alarmTopic);
    new Alarm(this, 'ExecutionsFailed', {
      alarmDescription: 'A featurize run failed: its report is at runs/<runId>/report.json, the cause in the execution',
      metric: this.stateMachine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    }).addAlarmAction(alarmAction);
    new Alarm(this, 'UploadsDeadLettered', {
      alarmDescription: 'Upload events the trigger could not process are waiting in the dead-letter queue',
      metric: this.uploadTrigger.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    }).addAlarmAction(alarmAction);

    // --- what the CLI and the README point at -------------------------------------------------------------
    const s3Uri = (prefix: string) => `s3://${bucket.bucketName}/${prefix}`;
    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn });
    new CfnOutput(this, 'BucketName', { value: bucket.bucketName });
    new CfnOutput(this, 'InputUri', { value: s3Uri(inputPrefix), description: 'Uploads here start runs' });
    new CfnOutput(this, 'DatasetUri', { value: s3Uri(out(featuresPrefix)), description: 'The Parquet dataset' });
    new CfnOutput(this, 'RunsUri', { value: s3Uri(out(runsPrefix)), description: "Each run's report.json and failures.jsonl" });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.uploadTrigger.deadLetterQueue.queueUrl });
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
        {
          // Lifecycle filters take a literal prefix and tags, no wildcard (runs/*/shards/): the extract function
          // tags every shard it writes, the reducer every part it stages, and nothing else under runs/ carries the tag.
          id: 'ExpireIntermediates',
          prefix: `${settings.outputPrefix}${runsPrefix}`,
          tagFilters: intermediateTags,
          expiration: Duration.days(settings.intermediateExpirationDays),
        },
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
    const handler = this.node.children.find((child) => child.node.id.startsWith('BucketNotificationsHandler'));
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
        `${settings.outputPrefix}${runsPrefix} tagged ${JSON.stringify(intermediateTags)} after ${settings.intermediateExpirationDays} ` +
        'days (the intermediate shards and staged parts); a stack cannot change the lifecycle of a bucket it does not own.',
    );
    return bucket;
  }

  /**
   * Adds each statement to the role (and to nothing else). A wildcard left in a resource is a key pattern under
   * one prefix of the run layout (keys name images and runs, unknown at deploy time): acknowledged as such.
   */
  private grant(role: IRole | undefined, statements: PolicyStatement[]): void {
    if (!role) throw new Error('a function without a role cannot be granted anything');
    for (const statement of statements) {
      role.addToPrincipalPolicy(statement);
      acknowledgeWildcardResources(
        role,
        statement.resources,
        `Objects or executions under one prefix only (${statement.actions.join(', ')}): their names are per image ` +
          'and per run, unknown at deploy time; the prefix is the narrowest scope.',
      );
    }
  }
}
