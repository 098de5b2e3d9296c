/**
 * The state machine, from the one ASL file (DefinitionBody.fromFile: no second copy of the definition) with its
 * placeholders substituted: the run defaults from the deployment's settings, a function ARN per step. STANDARD,
 * logged, not traced (infra/functions.ts says why); its role invokes exactly the steps' functions and reaches
 * exactly the S3 keys the Distributed Maps read and write, under every output prefix a run may write.
 */
import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  manifestsPrefix,
  mapResultsPrefix,
  pcaMapResultsPrefix,
  pcaPlanKey,
  reduceMapResultsPrefix,
  reducePlanKey,
} from '../functions/shared/run-layout.ts';
import {
  type DefinitionSubstitutions,
  definitionPath,
  maxInputBytesPerBatch,
  placeholderNames,
  type RunDefaultSubstitutions,
  type RunnerSubstitutions,
  readDefinitionTextSync,
} from '../statemachine/definition.ts';
import { type FunctionArnPlaceholder, functionArnPlaceholder, type StepName, steps } from '../statemachine/steps.ts';
import { logRetention } from './functions.ts';
import { allow, grant, listing, withBucketKey } from './grants.ts';
import { acknowledge } from './nag.ts';
import type { StackSettings } from './settings.ts';

export interface PipelineStateMachineProps {
  bucket: IBucket;
  settings: StackSettings;
  functions: Record<StepName, IFunction>;
}

export class PipelineStateMachine extends Construct {
  readonly stateMachine: StateMachine;

  constructor(scope: Construct, id: string, { bucket, settings, functions }: PipelineStateMachineProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const stateMachineName = `${stack.stackName}-featurize`;
    const { inputPrefix, outputPrefix, outputPrefixes } = settings;
    const runDefaults: RunDefaultSubstitutions = {
      InputBucket: bucket.bucketName,
      InputPrefix: inputPrefix,
      OutputBucket: bucket.bucketName,
      OutputPrefix: outputPrefix,
      GrantedOutputPrefixes: outputPrefixes.join(','),
      MaxItemsPerBatch: String(settings.maxItemsPerBatch),
      // The Map's batch input limit (256 KiB of JSON per batch): the item count limits batches first.
      MaxInputBytesPerBatch: String(maxInputBytesPerBatch),
      MaxConcurrency: String(settings.maxConcurrency),
      ToleratedFailurePercentage: String(settings.toleratedFailurePercentage),
      PcaDefault: settings.pca,
      IndexDefault: JSON.stringify(settings.indexAfterPublish),
    };
    const functionArns = Object.fromEntries(
      steps.map((step) => [functionArnPlaceholder(step), functions[step.name].functionArn]),
    ) as Record<FunctionArnPlaceholder, string>;
    // One part per FEATURIZE_PART_ROWS, as before: splitting a small run over more Lambdas would shorten its reduce
    // on AWS too, but that is unmeasured, and every part is a file the dataset keeps.
    const runner: RunnerSubstitutions = { ReduceParallelism: '1' };
    const substitutions: DefinitionSubstitutions = { ...runDefaults, ...runner, ...functionArns };
    const missing = placeholderNames(readDefinitionTextSync()).filter((name) => !(name in substitutions));
    if (missing.length > 0) throw new Error(`${definitionPath} has placeholders the stack does not fill: ${missing.join(', ')}`);

    const logs = new LogGroup(this, 'StateMachineLogs', {
      // The /aws/vendedlogs/ prefix keeps CloudWatch's resource policy small however many state machines log.
      logGroupName: `/aws/vendedlogs/states/${stateMachineName}`,
      retention: logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromFile(definitionPath),
      definitionSubstitutions: { ...substitutions },
      // No X-Ray: the functions are not instrumented (infra/functions.ts); the execution history and the map
      // run show each state's and each batch's timing.
      tracingEnabled: false,
      logs: {
        destination: logs,
        level: settings.stateMachineLogLevel === 'ALL' ? LogLevel.ALL : LogLevel.ERROR,
        includeExecutionData: true,
      },
    });

    const objects = (pattern: string, prefixes: readonly string[] = [outputPrefix]) =>
      prefixes.map((prefix) => bucket.arnForObjects(`${prefix}${pattern}`));
    const statesArn = (resource: string, resourceName: string) =>
      stack.formatArn({ service: 'states', resource, resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const bucketStatements = withBucketKey(
      [
        // ItemReader (listing): the input prefix only. ItemReader (manifest): the trigger's manifests only.
        listing(bucket, [inputPrefix]),
        allow(['s3:GetObject'], objects(`${manifestsPrefix}*`)),
        // ItemReader (the ReduceParts and PcaParts maps): the run's reduce and PCA plans, under every output prefix a
        // run may write.
        allow(['s3:GetObject'], [...objects(reducePlanKey('*'), outputPrefixes), ...objects(pcaPlanKey('*'), outputPrefixes)]),
        // ResultWriter (every map), under every output prefix a run may write: Step Functions uploads results in
        // parts and reads them back for the map's manifest.
        allow(
          ['s3:PutObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
          [mapResultsPrefix, reduceMapResultsPrefix, pcaMapResultsPrefix].flatMap((prefix) => objects(`${prefix('*')}*`, outputPrefixes)),
        ),
      ],
      settings.bucketKmsKeyArn,
    );
    grant(this.stateMachine.role, [
      allow(
        ['lambda:InvokeFunction'],
        steps.map((step) => functions[step.name].functionArn),
      ),
      ...bucketStatements,
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
      'CloudWatch Logs delivery (logs:CreateLogDelivery, ...) supports no resource-level permissions: AWS documents ' +
        'these grants with Resource "*".',
    );
    acknowledge(
      this.stateMachine,
      'AwsSolutions-SF2',
      'X-Ray off on purpose: no function is instrumented, so traces would repeat what the execution history, the map ' +
        "run and Lambda's REPORT log lines show (infra/functions.ts).",
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
  }
}
