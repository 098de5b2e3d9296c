import { describe, expect, it } from 'vitest';
import { checkedExtractTimeout, extractTimeoutSeconds, worstCaseChildSeconds } from '../../infra/extract-sizing.ts';
import { stackSettings } from '../../infra/settings.ts';
import { readDefinitionTextSync, retriersOf } from '../../statemachine/definition.ts';

const fromContext = (context: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => stackSettings((key) => context[key], env);

describe('deployment settings', () => {
  it('defaults to a new bucket, images/ in, datasets/mobilenet-v2/ out, onnx with squash', () => {
    expect(fromContext({})).toMatchObject({
      stackName: 'Featurize',
      inputPrefix: 'images/',
      outputPrefix: 'datasets/mobilenet-v2/',
      maxItemsPerBatch: 250,
      engine: 'onnx',
      resize: 'squash',
      modelDir: '/opt/model/tfjs',
      stateMachineLogLevel: 'ERROR',
    });
    expect(fromContext({}).bucketName).toBeUndefined();
  });

  it('takes context over the environment over the default, and normalizes prefixes', () => {
    const env = { FEATURIZE_BATCH_SIZE: '100', FEATURIZE_INPUT_PREFIX: '/uploads', FEATURIZE_ENGINE: 'tfjs' };
    expect(fromContext({ maxItemsPerBatch: '50' }, env)).toMatchObject({ maxItemsPerBatch: 50, inputPrefix: 'uploads/' });
    expect(fromContext({}, env).maxItemsPerBatch).toBe(100);
  });

  it('refuses prefixes that would let outputs trigger runs, naming the setting', () => {
    expect(() => fromContext({ inputPrefix: '' })).toThrow(/inputPrefix .*must not be empty/);
    expect(() => fromContext({ inputPrefix: 'data/', outputPrefix: 'data/out/' })).toThrow(/outputPrefix .*must not contain/);
    expect(() => fromContext({ inputPrefix: 'data/in/', outputPrefix: 'data/' })).toThrow(/outputPrefix/);
  });

  it('turns the pca setting into the JSON the definition parses: off by default, a share or a count', () => {
    expect(fromContext({}).pca).toBe('null');
    expect(fromContext({ pca: '0.95' }).pca).toBe('0.95');
    expect(fromContext({}, { FEATURIZE_PCA: '64' }).pca).toBe('64');
    expect(() => fromContext({ pca: '1.5' })).toThrow(/pca \(context or FEATURIZE_PCA\): invalid PCA setting "1.5"/);
  });

  it('refuses unknown engines and resize modes, and a batch size SQS cannot deliver without a window', () => {
    expect(() => fromContext({ engine: 'pytorch' })).toThrow(/engine \(context or FEATURIZE_ENGINE\)/);
    expect(() => fromContext({ resize: 'letterbox' })).toThrow(/resize/);
    expect(() => fromContext({ uploadBatchWindowSeconds: 0, uploadBatchSize: 100 })).toThrow(/uploadBatchSize/);
  });
});

describe('extract timeout', () => {
  const retryPolicies = retriersOf(readDefinitionTextSync(), 'ExtractFunctionArn');

  it('reads the retry policy of both Distributed Maps from the ASL', () => {
    expect(retryPolicies).toHaveLength(2);
  });

  it('is twice a cold batch: 40 s for 250 images at 40 ms, 30 s at 10 ms', () => {
    expect(extractTimeoutSeconds(250, 40)).toBe(40);
    expect(extractTimeoutSeconds(250, 10)).toBe(25);
  });

  it('adds every retry after a timeout and its longest backoff to bound the EXPRESS child', () => {
    const retriers = [{ ErrorEquals: ['Sandbox.Timedout'], IntervalSeconds: 3, MaxAttempts: 3, BackoffRate: 2 }];
    expect(worstCaseChildSeconds(40, retriers)).toBe(4 * 40 + 3 + 6 + 12);
    expect(worstCaseChildSeconds(40, [{ ErrorEquals: ['Lambda.ServiceException'] }])).toBe(40);
  });

  it('refuses a batch size whose retried timeouts could outlive the five-minute child', () => {
    expect(checkedExtractTimeout(250, 40, retryPolicies)).toBe(40);
    expect(() => checkedExtractTimeout(2000, 40, retryPolicies)).toThrow(/over the 300 s limit .*lower maxItemsPerBatch/);
  });
});
