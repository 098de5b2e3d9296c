/**
 * The states after validation, executed as written in statemachine/featurize.asl.json by aws-local-stepfunctions,
 * their Task states bound to the real PCA and report handlers over a run's output on the filesystem. The
 * Distributed Map and the reducer are not needed to reach them: execution starts at the state after Validate,
 * with the state the execution holds there.
 */
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import aslValidator from 'asl-validator';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as pcaHandler } from '../../functions/pca/handler.ts';
import { handler as reportHandler } from '../../functions/report/handler.ts';
import { FsStorage } from '../../functions/shared/storage/fs-storage.ts';
import { writeSampleRun } from '../support/sample-run.ts';

const context = { functionName: 'local', awsRequestId: 'local' } as Context;
type JSONValue = Parameters<StateMachine['run']>[0];
/** What AWS gives an execution's states as `$$`: its name (the run id) and start. */
const executionContext = { Execution: { Name: 'run', StartTime: '2026-11-25T15:10:40.512Z' } };
const definitionText = await readFile(new URL('../../statemachine/featurize.asl.json', import.meta.url), 'utf8');

/** Fills the `${Name}` placeholders as the CDK app and the local runner do (all values are plain strings here). */
function definitionWith(values: Record<string, string>): StateMachineDefinition {
  return JSON.parse(definitionText.replace(/\$\{([A-Za-z][A-Za-z0-9_]*)\}/g, (match, name: string) => values[name] ?? match));
}

const substitutions = {
  InputBucket: 'fruits',
  InputPrefix: 'images/',
  OutputBucket: 'datasets',
  OutputPrefix: 'fruits/',
  MaxItemsPerBatch: '100',
  MaxInputBytesPerBatch: '262144',
  MaxConcurrency: '0',
  ToleratedFailurePercentage: '5',
  PcaDefault: 'null',
  ExtractFunctionArn: 'arn:aws:lambda:local:000000000000:function:extract',
  ReduceFunctionArn: 'arn:aws:lambda:local:000000000000:function:reduce',
  ValidateFunctionArn: 'arn:aws:lambda:local:000000000000:function:validate',
  PcaFunctionArn: 'arn:aws:lambda:local:000000000000:function:pca',
  ReportFunctionArn: 'arn:aws:lambda:local:000000000000:function:report',
};

/**
 * The definition from `startAt` on; `stopAfter` (a Pass state's name) ends the execution there. The states
 * before `startAt` stay in the definition, unreachable: the library's own check is off for that reason only
 * (the first test validates the definition as written).
 */
function from(startAt: string, values: Record<string, string> = substitutions, stopAfter?: string): StateMachine {
  const definition = definitionWith(values);
  definition.StartAt = startAt;
  if (stopAfter) definition.States[stopAfter] = { ...definition.States[stopAfter], Next: undefined, End: true } as never;
  return new StateMachine(definition, { validationOptions: { noValidate: true } });
}

const handlers = {
  Pca: (event: JSONValue) => pcaHandler(event as never, context) as Promise<never>,
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

/** The execution's state after Validate, as the earlier states leave it. */
function afterValidate(overrides: Record<string, JSONValue>): JSONValue {
  return {
    runId: 'run',
    input: { bucket: 'fruits', prefix: 'images/' },
    manifest: null,
    output: { bucket: dir, prefix: '' },
    mapError: null,
    pca: null,
    pcaResult: null,
    pcaError: null,
    reduce: { rows: 200, failures: 4 },
    validation: { passed: true, summary: 'all 12 checks passed' },
    ...overrides,
  };
}

async function run(input: JSONValue) {
  const execution = from('ChoosePca').run(input, { overrides: { taskResourceLocalHandlers: handlers }, context: executionContext });
  // A failed execution's error (the Fail state's Error and Cause) is the cause of the library's ExecutionError.
  return execution.result.then(
    (output) => ({ output: output as Record<string, unknown>, error: undefined }),
    (error: Error) => ({ output: undefined, error: error.cause }),
  );
}

const page = (runId = 'run') => readFile(join(dir, 'runs', runId, 'report.html'), 'utf8');

describe('state machine: PCA and report after validation', () => {
  it('is valid ASL with the new states and placeholders, before and after substitution', () => {
    for (const definition of [JSON.parse(definitionText), definitionWith(substitutions)]) {
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
    const output = await machine.run(request, { context: executionContext }).result;
    expect(output).toMatchObject({ pca: expected, pcaResult: null, pcaError: null });
  });

  it('runs PCA then the report after a passed validation, and succeeds', async () => {
    const { output, error } = await run(afterValidate({ pca: { components: 3 } }));
    expect(error).toBeUndefined();
    expect(output).toMatchObject({
      pcaResult: { modelId: 'run', components: 3, fitted: true, rows: 200 },
      pcaError: null,
      report: { report: 'runs/run/report.html', location: join(dir, 'runs/run/report.html') },
    });
    await access(join(dir, 'pca/run/model.json'));
    expect(await page()).toContain('3 of 48, explaining');
  });

  it('goes straight to the report when PCA is not requested', async () => {
    const { output, error } = await run(afterValidate({ pca: null }));
    expect(error).toBeUndefined();
    expect(output).toMatchObject({ pcaResult: null, report: { report: 'runs/run/report.html' } });
    expect(await page()).toContain('PCA was not requested for this run.');
  });

  it('still renders the report when validation failed, skips PCA, and fails the run as ValidationFailed', async () => {
    const validation = { passed: false, summary: '1 of 12 checks failed: accounting' };
    const { error } = await run(afterValidate({ pca: 0.9, validation }));
    expect(error).toMatchObject({ name: 'ValidationFailed', message: validation.summary });
    expect(await page()).toContain('PCA did not run: the validation did not pass.');
  });

  it('renders the report with the PCA error, then fails the run with it', async () => {
    const { error } = await run(afterValidate({ pca: { components: 5000 } }));
    expect(error).toMatchObject({ name: 'PcaError', message: expect.stringContaining('5000 components requested') });
    expect(await page()).toContain('PCA failed: PcaError: 5000 components requested');
  });

  it('does not fail a valid run when its report cannot be rendered, and keeps the report error', async () => {
    const { output, error } = await run(afterValidate({ pcaResult: { model: 3 } }));
    expect(error).toBeUndefined();
    expect(output).toMatchObject({ reportError: { Error: 'InvalidEventError' } });
  });
});
