import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { grantsOf, logicalId, nagViolations, type Synthesized, synthesize } from '../support/stack.ts';

let synth: Synthesized;
let template: Template;

beforeAll(async () => {
  synth = await synthesize({ bucketName: 'team-fruit-photos', inputPrefix: 'raw/', outputPrefix: 'features-v1/' });
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
    Annotations.fromStack(synth.stack).hasWarning('*', Match.stringLikeRegexp('add a lifecycle rule yourself.*features-v1/runs/'));
  });

  it('grants by the bucket name, on the configured prefixes', () => {
    const bucket = 'arn:<AWS::Partition>:s3:::team-fruit-photos';
    expect(grantsOf(template, logicalId(template, 'AWS::IAM::Role', 'ExtractRole'))).toEqual(
      expect.arrayContaining([`s3:GetObject ${bucket}/raw/*`, `s3:PutObject ${bucket}/features-v1/runs/*/shards/*`]),
    );
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { detail: { bucket: { name: ['team-fruit-photos'] }, object: { key: [{ prefix: 'raw/' }] } } },
    });
  });
});
