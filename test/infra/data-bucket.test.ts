import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import cdkJson from '../../cdk.json' with { type: 'json' };
import { DataBucket } from '../../infra/data-bucket.ts';
import { stackSettings } from '../../infra/settings.ts';

describe('DataBucket, new, with extra output prefixes', () => {
  it('expires the intermediates under every output prefix a run may write', () => {
    const stack = new Stack(new App({ context: cdkJson.context }), 'Bucket');
    new DataBucket(
      stack,
      'DataBucket',
      stackSettings((key) => ({ extraOutputPrefixes: 'experiments/kiwi/' })[key], {}),
    );
    const [bucket] = Object.values(
      Template.fromStack(stack).findResources('AWS::S3::Bucket', { Properties: { LoggingConfiguration: {} } }),
    );
    const expiring = (bucket!.Properties.LifecycleConfiguration.Rules as { Id: string; Prefix?: string }[]).filter((rule) => rule.Prefix);
    expect(expiring).toMatchObject([
      { Id: 'ExpireIntermediates', Prefix: 'datasets/mobilenet-v2/runs/', TagFilters: [{ Key: 'featurize:intermediate', Value: 'true' }] },
      { Id: 'ExpireIntermediates1', Prefix: 'experiments/kiwi/runs/', TagFilters: [{ Key: 'featurize:intermediate', Value: 'true' }] },
    ]);
  });
});
