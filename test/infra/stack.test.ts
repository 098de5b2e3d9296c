import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import validateAsl from 'asl-validator';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultModelDir } from '../../functions/shared/config.ts';
import { loadModelDescriptor } from '../../functions/shared/model/model-descriptor.ts';
import {
  featuresPrefix,
  intermediateTags,
  manifestKey,
  mapResultsPrefix,
  partKey,
  reportKey,
  shardKey,
  stagedPartsPrefix,
} from '../../functions/shared/run-layout.ts';
import { repoRoot } from '../../infra/assets.ts';
import { maxReceiveCount } from '../../infra/upload-trigger.ts';
import { placeholderNames, readDefinitionTextSync, substituteDefinition } from '../../statemachine/definition.ts';
import { flatten, grantsOf, logicalId, nagViolations, type Synthesized, synthesize } from '../support/stack.ts';

let synth: Synthesized;
let template: Template;
/** Logical id -> the construct's short name, so that grants read `<Data.Arn>/images/*`. */
let names: Record<string, string>;

const shortNames: [string, string][] = [
  ['AWS::S3::Bucket', 'Data'],
  ['AWS::S3::Bucket', 'AccessLogs'],
  ['AWS::Lambda::Function', 'Extract'],
  ['AWS::Lambda::Function', 'PlanReduce'],
  ['AWS::Lambda::Function', 'ReducePart'],
  ['AWS::Lambda::Function', 'AuditPart'],
  ['AWS::Lambda::Function', 'FinishReduce'],
  ['AWS::Lambda::Function', 'Validate'],
  ['AWS::Lambda::Function', 'Publish'],
  ['AWS::Lambda::Function', 'Pca'],
  ['AWS::Lambda::Function', 'PcaPart'],
  ['AWS::Lambda::Function', 'PublishPca'],
  ['AWS::Lambda::Function', 'Report'],
  ['AWS::Lambda::Function', 'UpdateIndex'],
  ['AWS::Lambda::Function', 'UploadTriggerFunction'],
  ['AWS::Logs::LogGroup', 'ExtractLogs'],
  ['AWS::Logs::LogGroup', 'PlanReduceLogs'],
  ['AWS::Logs::LogGroup', 'ReducePartLogs'],
  ['AWS::Logs::LogGroup', 'AuditPartLogs'],
  ['AWS::Logs::LogGroup', 'FinishReduceLogs'],
  ['AWS::Logs::LogGroup', 'ValidateLogs'],
  ['AWS::Logs::LogGroup', 'PublishLogs'],
  ['AWS::Logs::LogGroup', 'PcaLogs'],
  ['AWS::Logs::LogGroup', 'PcaPartLogs'],
  ['AWS::Logs::LogGroup', 'PublishPcaLogs'],
  ['AWS::Logs::LogGroup', 'ReportLogs'],
  ['AWS::Logs::LogGroup', 'UpdateIndexLogs'],
  ['AWS::Logs::LogGroup', 'UploadTriggerFunctionLogs'],
  ['AWS::Logs::LogGroup', 'StateMachineLogs'],
  ['AWS::SQS::Queue', 'UploadTriggerQueue'],
  ['AWS::SQS::Queue', 'UploadTriggerDeadLetterQueue'],
  ['AWS::StepFunctions::StateMachine', 'StateMachine'],
  ['AWS::DynamoDB::GlobalTable', 'Table'],
  ['AWS::Lambda::Function', 'CheckRun'],
  ['AWS::Logs::LogGroup', 'CheckRunLogs'],
];

beforeAll(async () => {
  synth = await synthesize();
  template = synth.template;
  names = {};
  for (const [type, name] of shortNames) {
    names[logicalId(template, type, name)] = name;
  }
});

const role = (prefix: string) => logicalId(template, 'AWS::IAM::Role', prefix);
const functionNamed = (name: string) =>
  template.findResources('AWS::Lambda::Function')[Object.keys(names).find((id) => names[id] === name)!]!;
/** A zip function's bundled code, as its asset holds it. */
const bundle = async (name: string) => {
  const fn = template.findResources('AWS::Lambda::Function')[Object.keys(names).find((id) => names[id] === name)!]!;
  const zip = fn.Properties.Code.S3Key as string;
  return readFile(join(synth.outdir, `asset.${zip.replace(/\.zip$/, '')}`, 'index.mjs'), 'utf8');
};
const triggerEnvironment = {
  FEATURIZE_STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:111122223333:stateMachine:Featurize-featurize',
  FEATURIZE_INPUT_BUCKET: 'fruits',
  FEATURIZE_OUTPUT_BUCKET: 'fruits',
};
const out = 'datasets/mobilenet-v2/';
const logsOf = (logGroup: string) => [`logs:CreateLogStream <${logGroup}.Arn>`, `logs:PutLogEvents <${logGroup}.Arn>`];
/** Take, renew, release and read a lease in the leases table (functions/shared/dataset/publish-lease.ts). */
const leaseGrants = ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'].map(
  (action) => `${action} <Table.Arn>`,
);
const listing = (...prefixes: string[]) => `s3:ListBucket <Data.Arn> if ${JSON.stringify({ StringLike: { 's3:prefix': prefixes } })}`;

describe('FeaturizeStack with a new bucket and the default settings', () => {
  it('synthesizes with no cdk-nag AwsSolutions finding left unacknowledged', async () => {
    const violations = await nagViolations(synth.outdir);
    expect(violations.map((v) => `${v.ruleName} at ${v.violatingConstructs.map((c) => c.constructPath).join(', ')}`)).toEqual([]);
    expect(synth.synthError).toBeUndefined();
  });

  it('keeps the data bucket private, encrypted, TLS-only, logged, unversioned, and its intermediates expiring', () => {
    const bucket = template.findResources('AWS::S3::Bucket')[logicalId(template, 'AWS::S3::Bucket', 'Data')]!;
    expect(bucket.Properties).toMatchObject({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: {
        DestinationBucketName: { Ref: logicalId(template, 'AWS::S3::Bucket', 'AccessLogs') },
        LogFilePrefix: 'data/',
      },
      NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
    });
    expect(bucket.Properties.VersioningConfiguration).toBeUndefined();
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual(
      expect.arrayContaining([
        {
          Id: 'ExpireIntermediates',
          Prefix: `${out}runs/`,
          TagFilters: [{ Key: 'featurize:intermediate', Value: 'true' }],
          ExpirationInDays: 7,
          Status: 'Enabled',
        },
        { Id: 'AbortIncompleteUploads', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' },
      ]),
    );
    // The rule's filter, applied as S3 does (prefix AND tags): shards and staged parts (tagged when written)
    // expire; the dataset (published parts are copied without tags), reports and manifests stay.
    const expiring = (key: string, tags: Record<string, string>) =>
      key.startsWith(`${out}runs/`) && tags['featurize:intermediate'] === 'true';
    expect(expiring(`${out}${shardKey('run-1', 'abc')}`, intermediateTags)).toBe(true);
    expect(expiring(`${out}${partKey('run-1', 0, stagedPartsPrefix('run-1'))}`, intermediateTags)).toBe(true);
    for (const kept of [`${featuresPrefix}part-00000.parquet`, reportKey('run-1'), manifestKey('upload-1')]) {
      expect(expiring(`${out}${kept}`, {}), kept).toBe(false);
    }
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logicalId(template, 'AWS::S3::Bucket', 'Data') },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('builds the extract, index and report functions from one x86_64 container image, extract sized for the 5-minute child limit', async () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      PackageType: 'Image',
      Architectures: ['x86_64'],
      MemorySize: 3008,
      // 2 x (10 s cold start + 250 images x 40 ms) = 40 s; with 3 retries after timeouts: 4 x 40 + 21 s of backoff.
      Timeout: 40,
      LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: logicalId(template, 'AWS::Logs::LogGroup', 'ExtractLogs') } },
      Environment: {
        Variables: {
          FEATURIZE_ENGINE: 'onnx',
          FEATURIZE_RESIZE: 'squash',
          FEATURIZE_MODEL_DIR: '/opt/model/tfjs',
          POWERTOOLS_SERVICE_NAME: 'featurize',
          POWERTOOLS_LOG_LEVEL: 'INFO',
        },
      },
    });
    // One image for the container steps, each function's CMD naming its handler (test/infra/extract-image.test.ts
    // checks the image bundles them so).
    const containerFunctions = ['Extract', 'UpdateIndex', 'Report'].map((name) => [name, functionNamed(name).Properties] as const);
    for (const [name, properties] of containerFunctions) {
      expect(properties, name).toMatchObject({ PackageType: 'Image', Architectures: ['x86_64'] });
      expect(properties.Code.ImageUri, name).toEqual(containerFunctions[0]![1].Code.ImageUri);
    }
    expect(Object.fromEntries(containerFunctions.map(([name, properties]) => [name, properties.ImageConfig]))).toEqual({
      Extract: { Command: ['extract.handler'] },
      UpdateIndex: { Command: ['update-index.handler'] },
      Report: { Command: ['report.handler'] },
    });
    // LanceDB spills an index build to /tmp: Lambda's most; the others keep the default 512 MB.
    expect(functionNamed('UpdateIndex').Properties).toMatchObject({ MemorySize: 3008, Timeout: 900, EphemeralStorage: { Size: 10240 } });
    expect(functionNamed('Extract').Properties.EphemeralStorage).toBeUndefined();
    expect(functionNamed('Report').Properties).toMatchObject({ MemorySize: 1024, Timeout: 300 });
    const assets = JSON.parse(await readFile(join(synth.outdir, `${synth.stack.artifactId}.assets.json`), 'utf8'));
    const images = Object.values(assets.dockerImages) as {
      source: { directory: string; dockerFile: string; platform: string; dockerBuildArgs: Record<string, string> };
    }[];
    expect(images).toHaveLength(1);
    // No TensorFlow library in the image unless asked for (-c tfjsNode=true).
    expect(images[0]?.source).toMatchObject({
      dockerFile: 'functions/extract/Dockerfile',
      platform: 'linux/amd64',
      dockerBuildArgs: { TFJS_NODE: 'false' },
    });
    // The build context holds what the Dockerfile copies, the model under build/model/ included, and nothing else.
    const context = join(synth.outdir, images[0]?.source.directory ?? '');
    expect((await readdir(context)).sort()).toEqual(
      expect.arrayContaining(['build', 'functions', 'package-lock.json', 'package.json', 'tsconfig.json']),
    );
    expect(await readdir(join(context, 'build', 'model', 'tfjs'))).toContain('model.json');
    // Baked in under /opt/model/tfjs, the model still records its own id, the one a local run records.
    const [baked, local] = await Promise.all([
      loadModelDescriptor(join(context, 'build', 'model', 'tfjs')),
      loadModelDescriptor(defaultModelDir()),
    ]);
    expect(baked.id).toBe(local.id);
    expect(await readdir(context)).not.toContain('node_modules');
  });

  it('runs the reduce steps, validate, publish and PCA on Node.js 22 (arm64) with the Parquet layer', () => {
    const layer = logicalId(template, 'AWS::Lambda::LayerVersion', 'ParquetLayer');
    for (const name of ['PlanReduce', 'ReducePart', 'AuditPart', 'FinishReduce', 'Validate', 'Publish', 'Pca', 'PcaPart', 'PublishPca']) {
      const fn = template.findResources('AWS::Lambda::Function')[Object.keys(names).find((id) => names[id] === name)!]!;
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        Timeout: 900,
        Layers: [{ Ref: layer }],
      });
    }
    template.hasResourceProperties('AWS::Lambda::LayerVersion', { CompatibleRuntimes: ['nodejs22.x'] });
  });

  it("loads each zip function's bundle with nothing beside it but its layer, as Lambda does, up to its event check", async () => {
    const layerModules = join(repoRoot, 'build', 'layers', 'parquet', 'nodejs', 'node_modules');
    for (const [name, layer] of [
      ['PlanReduce', true],
      ['ReducePart', true],
      ['AuditPart', true],
      ['FinishReduce', true],
      ['Validate', true],
      ['Publish', true],
      ['Pca', true],
      ['PcaPart', true],
      ['PublishPca', true],
      ['UploadTriggerFunction', false],
    ] as const) {
      // /var/task/index.mjs, and the layer's packages where Node's resolution finds them (Lambda: /opt/nodejs).
      const root = await mkdtemp(join(tmpdir(), `lambda-${name}-`));
      await mkdir(join(root, 'var', 'task'), { recursive: true });
      await writeFile(join(root, 'var', 'task', 'index.mjs'), await bundle(name));
      if (layer) await symlink(layerModules, join(root, 'node_modules'));
      const loaded = await new Promise<string>((resolve) => {
        execFile(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `import { handler } from ${JSON.stringify(join(root, 'var', 'task', 'index.mjs'))};
            await handler({}, { functionName: 'f', awsRequestId: 'r' }).catch((error) => console.log(error.name));`,
          ],
          { env: { PATH: process.env.PATH, AWS_REGION: 'eu-west-1', POWERTOOLS_LOG_LEVEL: 'SILENT', ...triggerEnvironment } },
          (_, stdout, stderr) => resolve(stdout.trim() || stderr),
        );
      });
      expect(loaded, name).toBe('InvalidEventError');
      await rm(root, { recursive: true, force: true });
    }
  });

  it('bundles each function with its libraries, importing the layer packages from the layer instead', async () => {
    const reduce = await bundle('ReducePart');
    expect(reduce).toContain('from"parquet-wasm"');
    expect(reduce).toContain('from"apache-arrow"');
    expect(await bundle('Validate')).toContain('from"hyparquet"');
    expect(await bundle('Publish')).toContain('from"parquet-wasm"');
    expect(await bundle('Publish')).toContain('from"hyparquet"');
    // Everything else is inside: middy, zod, vega and the AWS SDK are not imported from node_modules at run time.
    // (Static imports of minified ESM: `import{a as b}from"pkg";`. Optional dynamic imports, such as vega's
    // `try { await import("canvas") }`, are not dependencies.)
    for (const name of [
      'PlanReduce',
      'ReducePart',
      'AuditPart',
      'FinishReduce',
      'Validate',
      'Publish',
      'Pca',
      'PcaPart',
      'PublishPca',
      'UploadTriggerFunction',
    ]) {
      const imports = [...(await bundle(name)).matchAll(/(?:^|[;}\n])import\s*(?:[\w$*{},\s]+?from\s*)?"([^"]+)"/g)].map((m) => m[1]!);
      // A layer package's own files (`hyparquet/src/column.js`) come from the layer too.
      expect(
        imports.filter((pkg) => !isBuiltin(pkg) && !['parquet-wasm', 'apache-arrow', 'hyparquet'].includes(pkg.split('/')[0]!)),
        name,
      ).toEqual([]);
    }
  });

  it('defines a STANDARD state machine from the ASL file, every placeholder substituted, logged', async () => {
    const machine = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0]!.Properties;
    expect(machine).toMatchObject({
      StateMachineType: 'STANDARD',
      StateMachineName: 'Featurize-featurize',
      LoggingConfiguration: { Level: 'ERROR', IncludeExecutionData: true },
    });
    // The deployed definition is the ASL file itself (an asset), not a copy made in TypeScript.
    const asset = join(synth.outdir, `asset.${machine.DefinitionS3Location.Key}`);
    const definition = await readFile(asset, 'utf8');
    expect(definition).toBe(readDefinitionTextSync());

    const substitutions = machine.DefinitionSubstitutions as Record<string, unknown>;
    expect(Object.keys(substitutions).sort()).toEqual(placeholderNames(definition).sort());
    // Resolve the references as CloudFormation would, with a made-up account and region.
    const resolved = Object.fromEntries(
      Object.entries(substitutions).map(([name, value]) => {
        const text = flatten(value, names);
        const arn = /^<(\w+)\.Arn>$/.exec(text);
        if (arn) return [name, `arn:aws:lambda:eu-west-1:111122223333:function:featurize-${arn[1]}`];
        return [name, text === '<Data>' ? 'featurize-data-bucket' : text];
      }),
    );
    expect(resolved).toMatchObject({
      InputBucket: 'featurize-data-bucket',
      InputPrefix: 'images/',
      OutputBucket: 'featurize-data-bucket',
      OutputPrefix: out,
      GrantedOutputPrefixes: out,
      MaxItemsPerBatch: '250',
      MaxConcurrency: '100',
      ToleratedFailurePercentage: '5',
      MaxInputBytesPerBatch: String(256 * 1024),
      ExtractFunctionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:featurize-Extract',
      PublishFunctionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:featurize-Publish',
      ReportFunctionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:featurize-Report',
      UpdateIndexFunctionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:featurize-UpdateIndex',
      // No PCA unless asked for (-c pca=0.95): the JSON the Prepare state parses.
      PcaDefault: 'null',
      // No index update after publishing unless asked for (-c indexAfterPublish=true).
      IndexDefault: 'false',
      // One reduce part per FEATURIZE_PART_ROWS rows: on Lambda every part is a file of its own.
      ReduceParallelism: '1',
    });
    const asl = substituteDefinition(definition, resolved);
    expect(validateAsl(asl)).toMatchObject({ isValid: true, errors: [] });
    const defaults = {
      input: { bucket: 'featurize-data-bucket', prefix: 'images/' },
      output: { bucket: 'featurize-data-bucket', prefix: out },
      'maxItemsPerBatch.$': "States.StringToJson('250')",
    };
    expect(asl.States.Prepare).toMatchObject({ Parameters: { defaults } });
    expect(JSON.stringify(asl)).not.toMatch(/\$\{\w+\}/);
  });

  it('turns X-Ray off everywhere (nothing is instrumented), and no role may write traces', () => {
    const machine = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0]!.Properties;
    expect(machine.TracingConfiguration?.Enabled ?? false).toBe(false);
    for (const [id, fn] of Object.entries(template.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.TracingConfig?.Mode ?? 'PassThrough', id).toBe('PassThrough');
    }
    for (const id of Object.keys(template.findResources('AWS::IAM::Role'))) {
      expect(
        grantsOf(template, id, names).filter((grant) => grant.startsWith('xray:')),
        id,
      ).toEqual([]);
    }
  });

  it('reserves no concurrency for the extract function unless asked to (Lambda keeps 100 unreserved per account)', () => {
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
    }
  });

  it('alarms on failed executions and on dead-lettered uploads, through one SNS topic', () => {
    const topic = { Ref: logicalId(template, 'AWS::SNS::Topic', 'Alarms') };
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsFailed',
      Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: Object.keys(names).find((id) => names[id] === 'StateMachine') } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [topic],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      AlarmActions: [topic],
    });
  });

  it('sends Object Created events of the input prefix only to the upload queue: outputs can never start a run', () => {
    const rules = Object.values(template.findResources('AWS::Events::Rule'));
    expect(rules).toHaveLength(1);
    const pattern = rules[0]!.Properties.EventPattern;
    expect(pattern).toEqual({
      source: ['aws.s3'],
      'detail-type': ['Object Created'],
      detail: { bucket: { name: [{ Ref: logicalId(template, 'AWS::S3::Bucket', 'Data') }] }, object: { key: [{ prefix: 'images/' }] } },
    });
    // EventBridge prefix matching, applied to what the pipeline writes: none of it matches.
    const matches = (key: string) => (pattern.detail.object.key as { prefix: string }[]).some((p) => key.startsWith(p.prefix));
    expect(matches('images/Apple Red 1/r_100.jpg')).toBe(true);
    const staged = partKey('r', 0, stagedPartsPrefix('r'));
    for (const written of [
      `${featuresPrefix}part-00000.parquet`,
      staged,
      shardKey('r', 'b'),
      `${mapResultsPrefix('r')}manifest.json`,
      reportKey('r'),
      manifestKey('upload-x'),
    ]) {
      expect(matches(`${out}${written}`), written).toBe(false);
    }
    expect(rules[0]!.Properties.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [logicalId(template, 'AWS::SQS::Queue', 'UploadTriggerQueue'), 'Arn'] },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(template, 'AWS::SQS::Queue', 'UploadTriggerDeadLetterQueue'), 'Arn'] } },
      }),
    ]);
  });

  it('batches uploads through SQS with a window, partial batch responses and a dead-letter queue', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(template, 'AWS::SQS::Queue', 'UploadTriggerDeadLetterQueue'), 'Arn'] },
        maxReceiveCount,
      },
      SqsManagedSseEnabled: true,
      // 6 x the trigger's 60 s timeout + the 60 s batching window.
      VisibilityTimeout: 420,
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 1000,
      MaximumBatchingWindowInSeconds: 60,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Environment: {
        Variables: Match.objectLike({
          FEATURIZE_INPUT_PREFIX: 'images/',
          FEATURIZE_OUTPUT_PREFIX: out,
          FEATURIZE_STATE_MACHINE_ARN: { Ref: Object.keys(names).find((id) => names[id] === 'StateMachine') },
        }),
      },
    });
  });

  describe('grants each role exactly what it uses', () => {
    it('extract: reads the input prefix, writes shards', () => {
      expect(grantsOf(template, role('ExtractRole'), names)).toEqual(
        [
          `s3:GetObject <Data.Arn>/images/*`,
          `s3:PutObject <Data.Arn>/${out}runs/*/shards/*`,
          `s3:AbortMultipartUpload <Data.Arn>/${out}runs/*/shards/*`,
          `s3:PutObjectTagging <Data.Arn>/${out}runs/*/shards/*`,
          ...logsOf('ExtractLogs'),
        ].sort(),
      );
    });

    const writesTagged = (pattern: string) =>
      ['s3:PutObject', 's3:AbortMultipartUpload', 's3:PutObjectTagging'].map((action) => `${action} <Data.Arn>/${out}${pattern}`);

    it('plan-reduce: reads the map results; writes the plan and the failed batches (tagged); nothing of features/', () => {
      expect(grantsOf(template, role('PlanReduceRole'), names)).toEqual(
        [
          listing(`${out}runs/*`),
          `s3:GetObject <Data.Arn>/${out}runs/*/map/*`,
          ...writesTagged('runs/*/reduce/plan.json'),
          ...writesTagged('runs/*/reduce/batch-failures.jsonl'),
          ...logsOf('PlanReduceLogs'),
        ].sort(),
      );
    });

    it('reduce-part: reads shards; writes its staged part, stats, failure records, sample and moments (tagged); nothing of features/', () => {
      expect(grantsOf(template, role('ReducePartRole'), names)).toEqual(
        [
          `s3:GetObject <Data.Arn>/${out}runs/*/shards/*`,
          ...writesTagged('runs/*/parts/*'),
          ...writesTagged('runs/*/reduce/stats/*'),
          ...writesTagged('runs/*/reduce/failures/*'),
          ...writesTagged('runs/*/reduce/moments/*'),
          ...writesTagged('runs/*/reduce/samples/*'),
          ...logsOf('ReducePartLogs'),
        ].sort(),
      );
    });

    it('audit-part: lists its range of the input and the staged parts, reads its part, writes its audit (tagged); nothing of features/', () => {
      expect(grantsOf(template, role('AuditPartRole'), names)).toEqual(
        [
          listing('images/*', `${out}runs/*/parts/*`),
          `s3:GetObject <Data.Arn>/${out}runs/*/parts/*`,
          ...writesTagged('runs/*/reduce/audits/*'),
          ...logsOf('AuditPartLogs'),
        ].sort(),
      );
    });

    it('finish-reduce: reads the reduce stats and records; writes failures, deletes leftover staged parts, stats, moments and samples', () => {
      expect(grantsOf(template, role('FinishReduceRole'), names)).toEqual(
        [
          listing(`${out}runs/*`),
          `s3:GetObject <Data.Arn>/${out}runs/*/reduce/*`,
          `s3:PutObject <Data.Arn>/${out}runs/*/failures.jsonl`,
          `s3:AbortMultipartUpload <Data.Arn>/${out}runs/*/failures.jsonl`,
          `s3:DeleteObject <Data.Arn>/${out}runs/*/parts/*`,
          `s3:DeleteObject <Data.Arn>/${out}runs/*/reduce/stats/*`,
          `s3:DeleteObject <Data.Arn>/${out}runs/*/reduce/moments/*`,
          `s3:DeleteObject <Data.Arn>/${out}runs/*/reduce/samples/*`,
          ...logsOf('FinishReduceLogs'),
        ].sort(),
      );
    });

    it('validate: lists the input and outputs, reads outputs, writes only reports', () => {
      expect(grantsOf(template, role('ValidateRole'), names)).toEqual(
        [
          listing('images/*', `${out}features/*`, `${out}runs/*`),
          `s3:GetObject <Data.Arn>/${out}features/*`,
          `s3:GetObject <Data.Arn>/${out}runs/*`,
          `s3:GetObject <Data.Arn>/${out}manifests/*`,
          `s3:PutObject <Data.Arn>/${out}runs/*/report.json`,
          `s3:AbortMultipartUpload <Data.Arn>/${out}runs/*/report.json`,
          ...logsOf('ValidateLogs'),
        ].sort(),
      );
    });

    it("publish: reads the run's report, staged parts and failures and the dataset; writes and deletes only in features/", () => {
      expect(grantsOf(template, role('PublishRole'), names)).toEqual(
        [
          listing(`${out}features/*`, `${out}runs/*`),
          `s3:GetObject <Data.Arn>/${out}runs/*/report.json`,
          `s3:GetObject <Data.Arn>/${out}runs/*/parts/*`,
          `s3:GetObject <Data.Arn>/${out}runs/*/failures.jsonl`,
          `s3:GetObject <Data.Arn>/${out}features/*`,
          `s3:GetObject <Data.Arn>/${out}runs/*/rewrites/*`,
          `s3:GetObject <Data.Arn>/${out}runs/*/publish.json`,
          `s3:GetObject <Data.Arn>/${out}publish-journal.json`,
          `s3:PutObject <Data.Arn>/${out}features/*`,
          `s3:AbortMultipartUpload <Data.Arn>/${out}features/*`,
          `s3:PutObject <Data.Arn>/${out}runs/*/publish.json`,
          `s3:AbortMultipartUpload <Data.Arn>/${out}runs/*/publish.json`,
          `s3:PutObject <Data.Arn>/${out}publish-journal.json`,
          `s3:AbortMultipartUpload <Data.Arn>/${out}publish-journal.json`,
          `s3:PutObject <Data.Arn>/${out}runs/*/rewrites/*`,
          `s3:AbortMultipartUpload <Data.Arn>/${out}runs/*/rewrites/*`,
          `s3:PutObjectTagging <Data.Arn>/${out}runs/*/rewrites/*`,
          `s3:DeleteObject <Data.Arn>/${out}features/*`,
          `s3:DeleteObject <Data.Arn>/${out}publish-journal.json`,
          ...leaseGrants,
          ...logsOf('PublishLogs'),
        ].sort(),
      );
    });

    it('check-run: lists the input and the dataset, reads manifests, writes nothing', () => {
      expect(grantsOf(template, role('CheckRunRole'), names)).toEqual(
        [listing('images/*', `${out}features/*`), `s3:GetObject <Data.Arn>/${out}manifests/*`, ...logsOf('CheckRunLogs')].sort(),
      );
    });

    it("pca: reads the parts' moments, the dataset's footers, its partitions and models; writes models and the plan (tagged)", () => {
      expect(grantsOf(template, role('PcaRole'), names)).toEqual(
        [
          listing(`${out}features/*`, `${out}features-pca/*`, `${out}runs/*`),
          `s3:GetObject <Data.Arn>/${out}features/*`,
          `s3:GetObject <Data.Arn>/${out}features-pca/*`,
          `s3:GetObject <Data.Arn>/${out}pca/*`,
          `s3:GetObject <Data.Arn>/${out}runs/*/reduce/moments/*`,
          `s3:PutObject <Data.Arn>/${out}pca/*`,
          `s3:AbortMultipartUpload <Data.Arn>/${out}pca/*`,
          ...writesTagged('runs/*/pca/plan.json'),
          ...leaseGrants,
          ...logsOf('PcaLogs'),
        ].sort(),
      );
    });

    it('pca-part: lists and reads the dataset and the models; writes its staged reduced part (tagged); no lease', () => {
      expect(grantsOf(template, role('PcaPartRole'), names)).toEqual(
        [
          listing(`${out}features/*`),
          `s3:GetObject <Data.Arn>/${out}features/*`,
          `s3:GetObject <Data.Arn>/${out}pca/*`,
          ...writesTagged('runs/*/pca/parts/*'),
          ...logsOf('PcaPartLogs'),
        ].sort(),
      );
    });

    it('publish-pca: reads the plan, the staged reduced parts, the dataset and the models; writes and prunes the partitions only', () => {
      expect(grantsOf(template, role('PublishPcaRole'), names)).toEqual(
        [
          listing(`${out}features/*`, `${out}features-pca/*`, `${out}runs/*`),
          `s3:GetObject <Data.Arn>/${out}runs/*/pca/plan.json`,
          `s3:GetObject <Data.Arn>/${out}runs/*/pca/parts/*`,
          `s3:GetObject <Data.Arn>/${out}features/*`,
          `s3:GetObject <Data.Arn>/${out}pca/*`,
          `s3:PutObject <Data.Arn>/${out}features-pca/*`,
          `s3:AbortMultipartUpload <Data.Arn>/${out}features-pca/*`,
          `s3:DeleteObject <Data.Arn>/${out}features-pca/*`,
          ...leaseGrants,
          ...logsOf('PublishPcaLogs'),
        ].sort(),
      );
    });

    it('report: reads what the run left and the images it shows as thumbnails, writes only report.html', () => {
      expect(grantsOf(template, role('ReportRole'), names)).toEqual(
        [
          listing(`${out}runs/*`, `${out}features-pca/*`),
          `s3:GetObject <Data.Arn>/images/*`,
          `s3:GetObject <Data.Arn>/${out}runs/*`,
          `s3:GetObject <Data.Arn>/${out}features-pca/*`,
          `s3:GetObject <Data.Arn>/${out}pca/*`,
          `s3:PutObject <Data.Arn>/${out}runs/*/report.html`,
          `s3:AbortMultipartUpload <Data.Arn>/${out}runs/*/report.html`,
          ...logsOf('ReportLogs'),
        ].sort(),
      );
    });

    it("update-index: reads the dataset and an interrupted publish's journal, writes and prunes only index/, under the lease", () => {
      expect(grantsOf(template, role('UpdateIndexRole'), names)).toEqual(
        [
          listing(`${out}features/*`, `${out}index/*`),
          `s3:GetObject <Data.Arn>/${out}features/*`,
          `s3:GetObject <Data.Arn>/${out}index/*`,
          `s3:GetObject <Data.Arn>/${out}publish-journal.json`,
          `s3:PutObject <Data.Arn>/${out}index/*`,
          `s3:AbortMultipartUpload <Data.Arn>/${out}index/*`,
          `s3:DeleteObject <Data.Arn>/${out}index/*`,
          ...leaseGrants,
          ...logsOf('UpdateIndexLogs'),
        ].sort(),
      );
      expect(functionNamed('UpdateIndex').Properties.Environment.Variables).toMatchObject({
        FEATURIZE_LEASE_TABLE: { Ref: logicalId(template, 'AWS::DynamoDB::GlobalTable', 'Table') },
      });
    });

    it('trigger: consumes its queue, writes manifests, starts executions of this state machine', () => {
      const queue = '<UploadTriggerQueue.Arn>';
      expect(grantsOf(template, role('UploadTriggerFunctionRole'), names)).toEqual(
        [
          `s3:PutObject <Data.Arn>/${out}manifests/*`,
          `s3:AbortMultipartUpload <Data.Arn>/${out}manifests/*`,
          's3:GetObject <Data.Arn>/images/*',
          listing('images/*'),
          `states:StartExecution <StateMachine>`,
          ...['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'].map(
            (action) => `${action} ${queue}`,
          ),
          ...logsOf('UploadTriggerFunctionLogs'),
        ].sort(),
      );
    });

    it('state machine: invokes its functions, lists the input, reads manifests and reduce plans, writes map results, runs its children', () => {
      const execution = 'arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:Featurize-featurize';
      expect(grantsOf(template, role('StateMachineRole'), names)).toEqual(
        [
          ...[
            'CheckRun',
            'Extract',
            'PlanReduce',
            'ReducePart',
            'AuditPart',
            'FinishReduce',
            'Validate',
            'Publish',
            'UpdateIndex',
            'Pca',
            'PcaPart',
            'PublishPca',
            'Report',
          ].map((fn) => `lambda:InvokeFunction <${fn}.Arn>`),
          listing('images/*'),
          `s3:GetObject <Data.Arn>/${out}manifests/*`,
          `s3:GetObject <Data.Arn>/${out}runs/*/reduce/plan.json`,
          `s3:GetObject <Data.Arn>/${out}runs/*/pca/plan.json`,
          ...['s3:AbortMultipartUpload', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:PutObject'].flatMap((action) => [
            `${action} <Data.Arn>/${out}runs/*/map/*`,
            `${action} <Data.Arn>/${out}runs/*/reduce/map/*`,
            `${action} <Data.Arn>/${out}runs/*/pca/map/*`,
          ]),
          'states:StartExecution arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:Featurize-featurize',
          `states:DescribeExecution ${execution}:*`,
          `states:StopExecution ${execution}:*`,
          `states:RedriveExecution ${execution}/*:*`,
          ...[
            'logs:CreateLogDelivery',
            'logs:DeleteLogDelivery',
            'logs:DescribeLogGroups',
            'logs:DescribeResourcePolicies',
            'logs:GetLogDelivery',
            'logs:ListLogDeliveries',
            'logs:PutResourcePolicy',
            'logs:UpdateLogDelivery',
          ].map((action) => `${action} *`),
        ].sort(),
      );
    });

    it('uses no managed policy, no wildcard action, and no bucket-wide object grant', () => {
      for (const [id, resource] of Object.entries(template.findResources('AWS::IAM::Role'))) {
        expect(resource.Properties.ManagedPolicyArns, id).toBeUndefined();
        const grants = grantsOf(template, id, names);
        expect(
          grants.filter((grant) => grant.split(' ')[0]?.includes('*')),
          id,
        ).toEqual([]);
        expect(
          grants.filter((grant) => grant.includes('<Data.Arn>/*')),
          id,
        ).toEqual([]);
      }
    });
  });
});
