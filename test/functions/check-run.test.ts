import { PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { handler } from '../../functions/check-run/handler.ts';
import type { CheckRunEvent } from '../../statemachine/contracts.ts';
import event from '../events/check-run.json' with { type: 'json' };
import { lambdaContext } from '../support/asl-definition.ts';
import { useTestStores } from '../support/stores.ts';

const stores = useTestStores('check-run', ['fruits']);

beforeAll(async () => {
  await stores.s3.client.send(new PutObjectCommand({ Bucket: 'fruits', Key: 'images/Kiwi/k1.jpg', Body: 'not looked at' }));
});

/** The test event, with the run's output and the deployment's granted output replaced. */
const check = (output: { bucket: string; prefix: string }, prefixes = 'datasets/mobilenet-v2/,experiments/kiwi/') =>
  handler({ ...event, run: { ...event.run, output }, grantedOutput: { bucket: 'fruits', prefixes } } as CheckRunEvent, lambdaContext);

describe('CheckRun, against the output prefixes the deployment grants', () => {
  it('accepts the deployed output prefix or any extra one, however spelled', async () => {
    await expect(check({ bucket: 'fruits', prefix: 'datasets/mobilenet-v2/' })).resolves.toMatchObject({
      output: { bucket: 'fruits', prefix: 'datasets/mobilenet-v2/' },
      scope: { kind: 'scoped' },
    });
    await expect(check({ bucket: 'fruits', prefix: '/experiments/kiwi' })).resolves.toMatchObject({
      output: { bucket: 'fruits', prefix: 'experiments/kiwi/' },
    });
  });

  it('ends a run at once on a prefix inside a granted one, or in another bucket, naming the setting that grants it', async () => {
    await expect(check({ bucket: 'fruits', prefix: 'experiments/kiwi/v2/' })).rejects.toMatchObject({
      name: 'OutputUnavailableError',
      message:
        'the output s3://fruits/experiments/kiwi/v2/ is not one this deployment may write (s3://fruits/datasets/mobilenet-v2/, ' +
        's3://fruits/experiments/kiwi/): choose one of those, or grant it: deploy with -c extraOutputPrefixes=<prefix> (infra/settings.ts)',
    });
    await expect(check({ bucket: 'other-bucket', prefix: 'datasets/mobilenet-v2/' })).rejects.toMatchObject({
      name: 'OutputUnavailableError',
      message: expect.stringMatching(/^the output s3:\/\/other-bucket\/datasets\/mobilenet-v2\/ is not one/),
    });
  });
});
