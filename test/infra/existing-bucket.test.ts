import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { grantsOf, logicalId, nagViolations, type Synthesized, synthesize } from '../support/stack.ts';

let synth: Synthesized;
let template: Template;
const key = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const bucket = 'arn:<AWS::Partition>:s3:::team-fruit-photos';
/** Every role's grants, by logical id. */
const roles = () => Object.keys(template.findResources('AWS::IAM::Role')).map((id) => [id, grantsOf(template, id)] as const);

beforeAll(async () => {
  synth = await synthesize({
    bucketName: 'team-fruit-photos',
    bucketKmsKeyArn: key,
    inputPrefix: 'raw/',
    outputPrefix: 'features-v1/',
    extraOutputPrefixes: 'experiments/kiwi/',
    extractReservedConcurrency: 200,
    extractArchitecture: 'arm64',
  });
  template = synth.template;
});

describe('FeaturizeStack on an existing bucket', () => {
  it('creates no bucket, and still has no cdk-nag finding left unacknowledged', async () => {
    template.resourceCountIs('AWS::S3::Bucket', 0);
    expect(await nagViolations(synth.outdir)).toEqual([]);
    expect(synth.synthError).toBeUndefined();
  });

  it("turns on the bucket's EventBridge notifications without replacing its other notifications", () => {
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: 'team-fruit-photos',
      NotificationConfiguration: { EventBridgeConfiguration: {} },
      Managed: false,
    });
  });

  it('warns that the lifecycle rule for intermediates is the owner’s to add', () => {
    Annotations.fromStack(synth.stack).hasWarning(
      '*',
      Match.stringLikeRegexp('add a lifecycle rule yourself.*features-v1/runs/, experiments/kiwi/runs/'),
    );
  });

  it('grants by the bucket name, on the configured prefixes', () => {
    expect(grantsOf(template, logicalId(template, 'AWS::IAM::Role', 'ExtractRole'))).toEqual(
      expect.arrayContaining([`s3:GetObject ${bucket}/raw/*`, `s3:PutObject ${bucket}/features-v1/runs/*/shards/*`]),
    );
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { detail: { bucket: { name: ['team-fruit-photos'] }, object: { key: [{ prefix: 'raw/' }] } } },
    });
  });

  it("grants every object access under the output prefix under each extra output prefix too (the trigger's manifests aside)", () => {
    let twins = 0;
    for (const [id, grants] of roles()) {
      for (const grant of grants.filter((g) => /^s3:\w+ /.test(g) && g.includes('/features-v1/') && !g.includes('/manifests/'))) {
        expect(grants, id).toContain(grant.replace('/features-v1/', '/experiments/kiwi/'));
        twins++;
      }
    }
    // The state machine's ResultWriter, and each step's writes: shards, parts, failures, reports, features, PCA.
    expect(twins).toBeGreaterThan(40);
    const writer = grantsOf(template, logicalId(template, 'AWS::IAM::Role', 'StateMachineRole'));
    expect(writer).toContain(`s3:PutObject ${bucket}/experiments/kiwi/runs/*/map/*`);
    const publish = grantsOf(template, logicalId(template, 'AWS::IAM::Role', 'PublishRole'));
    expect(publish).toContain(`s3:DeleteObject ${bucket}/experiments/kiwi/features/*`);
  });

  it('lets every role that uploads abort its multipart uploads', () => {
    for (const [id, grants] of roles()) {
      for (const upload of grants.filter((g) => g.startsWith('s3:PutObject '))) {
        expect(grants, id).toContain(upload.replace('s3:PutObject ', 's3:AbortMultipartUpload '));
      }
    }
  });

  it('lets each role that reads the bucket decrypt with its KMS key, and each that writes it generate data keys, through S3 only', () => {
    const region = { 'Fn::Join': ['', ['s3.', { Ref: 'AWS::Region' }, '.amazonaws.com']] };
    const viaS3 = ` if ${JSON.stringify({ StringEquals: { 'kms:ViaService': region } })}`;
    let readers = 0;
    for (const [id, grants] of roles()) {
      const reads = grants.some((g) => g.startsWith(`s3:GetObject ${bucket}/`));
      const writes = grants.some((g) => g.startsWith(`s3:PutObject ${bucket}/`));
      const kms = grants.filter((g) => g.startsWith('kms:'));
      const expected = [
        ...(reads || writes ? [`kms:Decrypt ${key}${viaS3}`] : []),
        ...(writes ? [`kms:GenerateDataKey ${key}${viaS3}`] : []),
      ];
      expect(kms, id).toEqual(expected);
      if (reads || writes) readers++;
    }
    // Thirteen step functions, the trigger, and the state machine (ItemReader, ResultWriter).
    expect(readers).toBe(15);
  });

  it('reserves the asked concurrency for the extract function only', () => {
    const reserved = Object.values(template.findResources('AWS::Lambda::Function')).map((fn) => fn.Properties.ReservedConcurrentExecutions);
    expect(reserved.filter((value) => value !== undefined)).toEqual([200]);
    template.hasResourceProperties('AWS::Lambda::Function', { PackageType: 'Image', ReservedConcurrentExecutions: 200 });
  });

  it('builds the extract image for arm64 and runs it there when asked (-c extractArchitecture=arm64)', async () => {
    template.hasResourceProperties('AWS::Lambda::Function', { PackageType: 'Image', Architectures: ['arm64'] });
    const assets = JSON.parse(await readFile(join(synth.outdir, `${synth.stack.artifactId}.assets.json`), 'utf8'));
    expect(Object.values(assets.dockerImages).map((image) => (image as { source: { platform: string } }).source.platform)).toEqual([
      'linux/arm64',
    ]);
  });
});
