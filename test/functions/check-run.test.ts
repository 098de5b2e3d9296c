import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { handler } from '../../functions/check-run/handler.ts';
import { openStorage } from '../../functions/shared/storage/open-storage.ts';
import type { CheckedRun, CheckRunEvent } from '../../statemachine/contracts.ts';
import fixture from '../events/check-run.json' with { type: 'json' };
import { useTestStores } from '../support/stores.ts';

const context = { functionName: 'check-run', awsRequestId: 'test' } as Context;
const invoke = (event: unknown) => handler(event as CheckRunEvent, context) as Promise<CheckedRun>;
const stores = useTestStores('check-run', ['fruits']);

/**
 * The fixture's run (input images/Kiwi/ of a deployment over images/, S3), with some settings changed; the
 * deployment grants the run's output unless told otherwise.
 */
function eventWith(run: Partial<CheckRunEvent['run']>, deployedInput = fixture.deployedInput, granted?: string): CheckRunEvent {
  const output = (run.output ?? fixture.run.output) as { bucket: string; prefix: string };
  return {
    ...fixture,
    run: { ...fixture.run, ...run },
    deployedInput,
    grantedOutput: { bucket: output.bucket, prefixes: granted ?? output.prefix },
  } as CheckRunEvent;
}
const refusal = (event: CheckRunEvent) =>
  invoke(event).then(
    (checked) => new Error(`accepted: ${JSON.stringify(checked.scope)}`),
    (error: unknown) => error as Error,
  );

beforeAll(async () => {
  const bucket = openStorage({ bucket: 'fruits' });
  await bucket.write('images/Kiwi/1.jpg', 'jpeg');
  await bucket.write('images/Lemon/2.jpg', 'jpeg');
  await bucket.write('manifests/new.json', JSON.stringify([{ Key: 'images/Kiwi/1.jpg' }]));
});

describe('check-run handler', () => {
  it('accepts the CheckRun state event as the state machine passes it, and names the run’s scope', async () => {
    const checked = await invoke(fixture);
    expect(checked).toMatchObject({
      runId: fixture.run.runId,
      scope: { kind: 'scoped', prefix: 's3://fruits/images/Kiwi/' },
      startedAt: fixture.startedAt,
      mapError: null,
      validation: null,
    });
  });

  it.each([
    [
      'the deployment’s whole input prefix is a full run',
      { input: { bucket: 'fruits', prefix: 'images' } },
      { kind: 'full', prefix: 's3://fruits/images/' },
    ],
    [
      'a prefix below it is a scoped run',
      { input: { bucket: 'fruits', prefix: 'images/Kiwi/' } },
      { kind: 'scoped', prefix: 's3://fruits/images/Kiwi/' },
    ],
    [
      'a manifest is an incremental run',
      { input: { bucket: 'fruits', prefix: 'images/' }, manifest: { bucket: 'fruits', key: 'manifests/new.json' } },
      { kind: 'incremental' },
    ],
  ])('says %s', async (_, run, scope) => {
    expect((await invoke(eventWith(run))).scope).toEqual(scope);
  });

  it.each<[string, Partial<CheckRunEvent['run']>, string, RegExp]>([
    [
      'an empty input prefix (a typo)',
      { input: { bucket: 'fruits', prefix: 'images/Kiwii/' } },
      'RunRefusedError',
      /^no images under s3:\/\/fruits\/images\/Kiwii\/: nothing to do/,
    ],
    [
      'a manifest that is not there',
      { manifest: { bucket: 'fruits', key: 'manifests/gone.json' } },
      'RunRefusedError',
      /^no manifest at s3:\/\/fruits\/manifests\/gone\.json$/,
    ],
    [
      'an output bucket that does not exist',
      { output: { bucket: 'no-such-bucket', prefix: 'out/' } },
      'OutputUnavailableError',
      /^no bucket s3:\/\/no-such-bucket\/out\/: create it/,
    ],
    [
      'an output inside the input',
      { output: { bucket: 'fruits', prefix: 'images/Kiwi/out/' } },
      'RunRefusedError',
      /overlap \(one contains the other\)/,
    ],
  ])('refuses %s, naming it', async (_, run, name, message) => {
    const error = await refusal(eventWith(run));
    expect(error).toMatchObject({ name });
    expect(error.message).toMatch(message);
  });

  it('refuses an output whose features/ holds files this pipeline did not write, naming them; its own parts and half-written copies are fine', async () => {
    const output = openStorage({ bucket: 'fruits', prefix: 'datasets/mixed/' });
    await output.write('features/part-20261101T000000Z-abcdef-00000.parquet', 'PAR1');
    await output.write('features/part-20261101T000000Z-abcdef-00001.parquet.1234.ab12cd.partial', 'PAR');
    expect((await invoke(eventWith({ output: { bucket: 'fruits', prefix: 'datasets/mixed/' } }))).scope.kind).toBe('scoped');

    await output.write('features/README.md', 'notes');
    const error = await refusal(eventWith({ output: { bucket: 'fruits', prefix: 'datasets/mixed/' } }));

    expect(error).toMatchObject({ name: 'RunRefusedError' });
    expect(error.message).toMatch(
      /^s3:\/\/fruits\/datasets\/mixed\/features\/ holds 1 file\(s\) this pipeline did not write, e\.g\. s3:\/\/fruits\/datasets\/mixed\/features\/README\.md/,
    );
  });

  it('refuses a local output that is a file, and an empty local folder', async () => {
    await writeFile(join(stores.dir, 'a-file'), 'x');
    await mkdir(join(stores.dir, 'empty'));
    const local = (input: string, output: string) =>
      eventWith(
        { input: { bucket: join(stores.dir, input), prefix: '' }, output: { bucket: join(stores.dir, output), prefix: '' } },
        {
          bucket: join(stores.dir, input),
          prefix: '',
        },
      );

    expect(await refusal(local('empty', 'out'))).toMatchObject({
      name: 'RunRefusedError',
      message: expect.stringMatching(/^no images under .*\/empty\/: nothing to do/),
    });
    expect(await refusal(local('empty', 'a-file'))).toMatchObject({
      name: 'OutputUnavailableError',
      message: expect.stringContaining('is a file, not a folder'),
    });
  });
});

describe('CheckRun, against the output prefixes the deployment grants', () => {
  const granted = 'datasets/mobilenet-v2/,experiments/kiwi/';
  const check = (output: { bucket: string; prefix: string }) =>
    invoke({ ...eventWith({ output }, fixture.deployedInput, granted), grantedOutput: { bucket: 'fruits', prefixes: granted } });

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
