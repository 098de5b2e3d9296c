/**
 * The states after publishing, executed as written in statemachine/featurize.asl.json by aws-local-stepfunctions,
 * their Task states bound to the real PCA and report handlers over a published run's output on the filesystem.
 * The Distributed Map, the reducer, the validator and the publisher are not needed to reach them: execution
 * starts at the state after Publish (or, for a failed validation, at the choice after Validate), with the state
 * the execution holds there. test/statemachine/publish-states.test.ts runs the states from Reduce on.
 */
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import aslValidator from 'asl-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as pcaHandler } from '../../functions/pca/handler.ts';
import { handler as pcaPartHandler } from '../../functions/pca-part/handler.ts';
import { handler as publishPcaHandler } from '../../functions/publish-pca/handler.ts';
import { handler as reportHandler } from '../../functions/report/handler.ts';
import { FsStorage } from '../../functions/shared/storage/fs-storage.ts';
import { substituteDefinition } from '../../statemachine/definition.ts';
import {
  lambdaContext as context,
  definitionText,
  distributedMapHandler,
  executionContext,
  from,
  type JSONValue,
  substitutions,
} from '../support/asl-definition.ts';
import { writeSampleRun } from '../support/sample-run.ts';

const handlers = {
  Pca: (event: JSONValue) => pcaHandler(event as never, context) as Promise<never>,
  PcaParts: distributedMapHandler('PcaParts', { PcaPart: (event) => pcaPartHandler(event as never, context) as Promise<never> }, 'run'),
  PublishPca: (event: JSONValue) => publishPcaHandler(event as never, context) as Promise<never>,
  Report: (event: JSONValue) => reportHandler(event as never, context) as Promise<never>,
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'asl-pca-report-'));
  await writeSampleRun(new FsStorage(dir), 'run');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The execution's state after Publish, as the earlier states leave it. */
function afterPublish(overrides: Record<string, JSONValue>): JSONValue {
  return {
    runId: 'run',
    input: { bucket: 'fruits', prefix: 'images/' },
    manifest: null,
    output: { bucket: dir, prefix: '' },
    maxConcurrency: 0,
    checkError: null,
    mapError: null,
    pca: null,
    pcaResult: null,
    pcaError: null,
    index: false,
    indexResult: null,
    indexError: null,
    reduce: { rows: 200, failures: 4 },
    validation: { passed: true, summary: 'all 12 checks passed' },
    publish: {
      runId: 'run',
      mode: 'full',
      parts: ['features/part-run-00000.parquet', 'features/part-run-00001.parquet'],
      removedParts: 0,
      rewrittenParts: 0,
      millis: 40,
    },
    publishError: null,
    ...overrides,
  };
}

async function run(input: JSONValue, startAt = 'ChoosePca') {
  const execution = from(startAt).run(input, { overrides: { taskResourceLocalHandlers: handlers }, context: executionContext('run') });
  // A failed execution's error (the Fail state's Error and Cause) is the cause of the library's ExecutionError.
  return execution.result.then(
    (output) => ({ output: output as Record<string, unknown>, error: undefined }),
    (error: Error) => ({ output: undefined, error: error.cause }),
  );
}

const page = (runId = 'run') => readFile(join(dir, 'runs', runId, 'report.html'), 'utf8');

describe('state machine: PCA and report after publishing', () => {
  it('is valid ASL with the new states and placeholders, before and after substitution', () => {
    for (const definition of [JSON.parse(definitionText), substituteDefinition(definitionText, substitutions)]) {
      const result = aslValidator(definition);
      expect(result.errorsText()).toBe('');
      expect(result.isValid).toBe(true);
    }
  });

  it.each([
    ['null', {}, null],
    ['0.95', {}, 0.95],
    ['64', {}, 64],
    ['0.95', { pca: null }, null],
    ['null', { pca: { model: 's3://b/p/pca/r/model.json' } }, { model: 's3://b/p/pca/r/model.json' }],
  ])('takes the pca setting from ${PcaDefault} = %s unless the input gives one (%j)', async (pcaDefault, request, expected) => {
    const machine = from('Prepare', { ...substitutions, PcaDefault: pcaDefault }, 'ApplyDefaults');
    const output = await machine.run(request, { context: executionContext('run') }).result;
    expect(output).toMatchObject({ run: { pca: expected }, deployedInput: { bucket: 'fruits', prefix: 'images/' } });
  });

  it('runs PCA then the report after a passed validation, and succeeds', async () => {
    const { output, error } = await run(afterPublish({ pca: { components: 3 } }));
    expect(error).toBeUndefined();
    expect(output).toMatchObject({
      pcaPlan: { modelId: 'run', plan: { bucket: dir, key: 'runs/run/pca/plan.json' }, parts: 2 },
      pcaResult: { modelId: 'run', components: 3, fitted: true, rows: 200, parts: 2, reducedAgain: 0 },
      pcaError: null,
      report: { report: 'runs/run/report.html', location: join(dir, 'runs/run/report.html') },
    });
    await access(join(dir, 'pca/run/model.json'));
    expect(await page()).toContain('3 of 48, explaining');
  });

  it('goes straight to the report when PCA is not requested', async () => {
    const { output, error } = await run(afterPublish({ pca: null }));
    expect(error).toBeUndefined();
    expect(output).toMatchObject({ pcaResult: null, report: { report: 'runs/run/report.html' } });
    expect(await page()).toContain('PCA was not requested for this run.');
  });

  it('still renders the report when validation failed, skips publishing and PCA, and fails the run as ValidationFailed', async () => {
    const validation = { passed: false, summary: '1 of 12 checks failed: accounting' };
    const { error } = await run(afterPublish({ pca: 0.9, validation, publish: null }), 'ChoosePublish');
    expect(error).toMatchObject({ name: 'ValidationFailed', message: validation.summary });
    expect(await page()).toContain('PCA did not run: the validation did not pass.');
    expect(await page()).toContain('Nothing was published: features/ is as it was before this run.');
  });

  it('renders the report with the PCA error, then fails the run with it', async () => {
    const { error } = await run(afterPublish({ pca: { components: 5000 } }));
    expect(error).toMatchObject({ name: 'PcaError', message: expect.stringContaining('5000 components requested') });
    expect(await page()).toContain('PCA failed: PcaError: 5000 components requested');
  });

  it('does not fail a valid run when its report cannot be rendered, and keeps the report error', async () => {
    const { output, error } = await run(afterPublish({ pcaResult: { model: 3 } }));
    expect(error).toBeUndefined();
    expect(output).toMatchObject({ reportError: { Error: 'InvalidEventError' } });
  });
});
