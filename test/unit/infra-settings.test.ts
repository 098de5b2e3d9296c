import { describe, expect, it } from 'vitest';
import {
  checkedExtractTimeout,
  extractTimeoutSeconds,
  refusedInvocationSeconds,
  retrierWaitSeconds,
  worstCaseChildSeconds,
} from '../../infra/extract-sizing.ts';
import { settingSources, stackSettings } from '../../infra/settings.ts';
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

  it('updates no index after publishing unless asked to, by context or FEATURIZE_INDEX', () => {
    expect(fromContext({}).indexAfterPublish).toBe(false);
    expect(fromContext({ indexAfterPublish: 'true' }).indexAfterPublish).toBe(true);
    expect(fromContext({ indexAfterPublish: true }).indexAfterPublish).toBe(true);
    expect(fromContext({}, { FEATURIZE_INDEX: 'true' }).indexAfterPublish).toBe(true);
    expect(() => fromContext({ indexAfterPublish: 'yes' })).toThrow(/indexAfterPublish \(context or FEATURIZE_INDEX\)/);
  });

  it('refuses prefixes that would let outputs trigger runs, naming the setting', () => {
    expect(() => fromContext({ inputPrefix: '' })).toThrow(/inputPrefix .*must not be empty/);
    expect(() => fromContext({ inputPrefix: 'data/', outputPrefix: 'data/out/' })).toThrow(/outputPrefix .*must not contain/);
    expect(() => fromContext({ inputPrefix: 'data/in/', outputPrefix: 'data/' })).toThrow(/outputPrefix/);
  });

  it('grants extra output prefixes, comma-separated or a list, each kept apart from the input prefix', () => {
    expect(fromContext({}).outputPrefixes).toEqual(['datasets/mobilenet-v2/']);
    expect(fromContext({ extraOutputPrefixes: 'experiments/kiwi, /experiments/pear' }).outputPrefixes).toEqual([
      'datasets/mobilenet-v2/',
      'experiments/kiwi/',
      'experiments/pear/',
    ]);
    expect(fromContext({}, { FEATURIZE_EXTRA_OUTPUT_PREFIXES: 'datasets/mobilenet-v2/,x/' }).outputPrefixes).toEqual([
      'datasets/mobilenet-v2/',
      'x/',
    ]);
    expect(fromContext({ extraOutputPrefixes: ['a/', 'b'] }).outputPrefixes).toEqual(['datasets/mobilenet-v2/', 'a/', 'b/']);
    expect(() => fromContext({ extraOutputPrefixes: 'images/experiments/' })).toThrow(/extraOutputPrefixes .*no output prefix may/);
    expect(() => fromContext({ extraOutputPrefixes: ['a,b/'] })).toThrow(/extraOutputPrefixes .*comma/);
  });

  it('takes a KMS key ARN for an existing bucket only, and an opt-in reservation for the extract function', () => {
    const key = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    expect(fromContext({ bucketName: 'team-photos', bucketKmsKeyArn: key }).bucketKmsKeyArn).toBe(key);
    expect(() => fromContext({ bucketKmsKeyArn: key })).toThrow(/bucketKmsKeyArn .*only for an existing bucket/);
    expect(() => fromContext({ bucketName: 'team-photos', bucketKmsKeyArn: 'alias/photos' })).toThrow(/bucketKmsKeyArn .*a KMS key ARN/);
    expect(fromContext({}).extractReservedConcurrency).toBeUndefined();
    expect(fromContext({}, { FEATURIZE_EXTRACT_RESERVED_CONCURRENCY: '50' }).extractReservedConcurrency).toBe(50);
    expect(() => fromContext({ extractReservedConcurrency: 0 })).toThrow(/extractReservedConcurrency/);
  });

  it('builds the extract function for x86_64 unless told arm64, and refuses tfjs-node on arm64', () => {
    expect(fromContext({}).extractArchitecture).toBe('x86_64');
    expect(fromContext({}, { FEATURIZE_EXTRACT_ARCHITECTURE: 'arm64' }).extractArchitecture).toBe('arm64');
    expect(() => fromContext({ extractArchitecture: 'aarch64' })).toThrow(/extractArchitecture/);
    expect(() => fromContext({ extractArchitecture: 'arm64', tfjsNode: 'true' })).toThrow(/extractArchitecture .*x86_64 Linux only/);
  });

  it('turns the pca setting into the JSON the definition parses: off by default, a share or a count', () => {
    expect(fromContext({}).pca).toBe('null');
    expect(fromContext({ pca: '0.95' }).pca).toBe('0.95');
    expect(fromContext({}, { FEATURIZE_PCA: '64' }).pca).toBe('64');
    expect(() => fromContext({ pca: '1.5' })).toThrow(/pca \(context or FEATURIZE_PCA\): invalid PCA setting "1.5"/);
  });

  it('refuses unknown engines and resize modes, and a batch size SQS cannot deliver without a window', () => {
    expect(() => fromContext({ engine: 'pytorch' })).toThrow(/engine \(context or FEATURIZE_ENGINE\)/);
    expect(() => fromContext({ engine: 'onnx-int8' })).toThrow(/onnx-int8 runs locally only/);
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
    // ASL's defaults: 3 retries, 1 s doubling.
    expect(worstCaseChildSeconds(40, [{ ErrorEquals: ['Lambda.ServiceException'] }])).toBe(4 * 40 + 1 + 2 + 4);
    expect(worstCaseChildSeconds(40, [{ ErrorEquals: ['States.ALL'], MaxAttempts: 0 }])).toBe(40);
  });

  it("adds every Retrier's retries, each counting its own: throttled calls are short, their waits capped by MaxDelaySeconds", () => {
    const throttling = {
      ErrorEquals: ['Lambda.TooManyRequestsException'],
      IntervalSeconds: 2,
      MaxAttempts: 6,
      BackoffRate: 2,
      MaxDelaySeconds: 16,
    };
    expect(retrierWaitSeconds(throttling)).toBe(2 + 4 + 8 + 16 + 16 + 16);
    const crashes = { ErrorEquals: ['Lambda.Unknown', 'Runtime.OutOfMemory'], IntervalSeconds: 3, MaxAttempts: 3, BackoffRate: 2 };
    expect(worstCaseChildSeconds(40, [throttling, crashes])).toBe(40 + 6 * refusedInvocationSeconds + 62 + 3 * 40 + 21);
    // A Retrier that also matches errors coming after a full run counts its attempts at the timeout.
    expect(
      worstCaseChildSeconds(40, [{ ...throttling, ErrorEquals: ['Lambda.TooManyRequestsException', 'Lambda.ServiceException'] }]),
    ).toBe(40 + 6 * 40 + 62);
    // JitterStrategy FULL only shortens waits.
    expect(retrierWaitSeconds({ ...crashes, JitterStrategy: 'FULL' })).toBe(retrierWaitSeconds(crashes));
  });

  it('retries what Lambda reports for a timeout, an out-of-memory and a crash in both maps', () => {
    for (const retriers of retryPolicies) {
      const retried = retriers.flatMap((retrier) => retrier.ErrorEquals);
      for (const error of [
        'Lambda.Unknown',
        'Runtime.OutOfMemory',
        'Sandbox.Timedout',
        'Runtime.ExitError',
        'Lambda.TooManyRequestsException',
      ])
        expect(retried).toContain(error);
    }
  });

  it('refuses a batch size whose retried timeouts could outlive the five-minute child', () => {
    expect(checkedExtractTimeout(250, 40, retryPolicies)).toBe(40);
    // 4 full attempts, 6 throttled ones and waits of 62 + 21 s: 6 + 4 × 44 + 83 = 265 s; a 54 s timeout makes 305 s.
    expect(checkedExtractTimeout(300, 40, retryPolicies)).toBe(44);
    expect(() => checkedExtractTimeout(420, 40, retryPolicies)).toThrow(/could take 305 s, over the 300 s limit .*lower maxItemsPerBatch/);
  });

  it('keeps the default batch at 250: 500 needs a per-image time of 32 ms or less', () => {
    expect(() => checkedExtractTimeout(500, settingSources.msPerImage.default, retryPolicies)).toThrow(
      /needs a 60 s extract timeout.* could take 329 s/,
    );
    // 2 × (10 + 500 × 0.032) = 52 s; 6 + 4 × 52 + 83 = 297 s.
    expect(checkedExtractTimeout(500, 32, retryPolicies)).toBe(52);
    expect(() => checkedExtractTimeout(500, 33, retryPolicies)).toThrow(/over the 300 s limit/);
  });
});
