import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { concurrencyShortfall } from '../../cli/deployed-runs.ts';
import { readDefinitionTextSync, substituteDefinition } from '../../statemachine/definition.ts';
import { type LocalCloudFormation, startLocalCloudFormation } from '../support/cloudformation-server.ts';
import { type LocalLambda, startLocalLambda } from '../support/lambda-server.ts';
import { type FakeExecution, type LocalStepFunctions, startLocalStepFunctions } from '../support/sfn-server.ts';

const cli = fileURLToPath(new URL('../../cli/featurize.ts', import.meta.url));
const stateMachineArn = 'arn:aws:states:eu-west-1:111122223333:stateMachine:Featurize-featurize';
const lambda = (name: string) => `arn:aws:lambda:eu-west-1:111122223333:function:${name}`;

let sfn: LocalStepFunctions;
let cloudFormation: LocalCloudFormation;
let lambdaService: LocalLambda;

/** The CLI as a user runs it, against the local endpoints; resolves with its output and exit code. */
function featurize(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      {
        env: {
          PATH: process.env.PATH,
          AWS_ENDPOINT_URL_SFN: sfn.endpoint,
          AWS_ENDPOINT_URL_CLOUDFORMATION: cloudFormation.endpoint,
          AWS_ENDPOINT_URL_LAMBDA: lambdaService.endpoint,
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
          AWS_REGION: 'eu-west-1',
        },
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const startRequests = () => sfn.requests.filter((r) => r.action === 'StartExecution').map((r) => r.body);

/** Moves an execution along on each poll: RUNNING with its map run's counts, then the given end. */
function script(steps: ((execution: FakeExecution) => void)[]): void {
  let step = 0;
  sfn.onDescribeExecution = (execution) => steps[Math.min(step++, steps.length - 1)]?.(execution);
}

const counts = (succeeded: number, failed: number, total: number) => ({
  pending: total - succeeded - failed,
  running: 0,
  succeeded,
  failed,
  timedOut: 0,
  aborted: 0,
  total,
  resultsWritten: succeeded + failed,
});

beforeAll(async () => {
  sfn = await startLocalStepFunctions();
  cloudFormation = await startLocalCloudFormation();
  lambdaService = await startLocalLambda();
  cloudFormation.stacks.set('Featurize', { StateMachineArn: stateMachineArn, BucketName: 'fruits' });
  sfn.stateMachines.set(stateMachineArn, {
    name: 'Featurize-featurize',
    // The deployed definition: the ASL with the stack's substitutions.
    definition: JSON.stringify(
      substituteDefinition(readDefinitionTextSync(), {
        InputBucket: 'fruits',
        InputPrefix: 'images/',
        OutputBucket: 'fruits',
        OutputPrefix: 'datasets/mobilenet-v2/',
        GrantedOutputPrefixes: 'datasets/mobilenet-v2/,experiments/kiwi/',
        MaxItemsPerBatch: '250',
        MaxInputBytesPerBatch: '262144',
        MaxConcurrency: '100',
        ToleratedFailurePercentage: '5',
        CheckRunFunctionArn: lambda('check-run'),
        ExtractFunctionArn: lambda('extract'),
        PlanReduceFunctionArn: lambda('plan-reduce'),
        AuditPartFunctionArn: lambda('audit-part'),
        ReducePartFunctionArn: lambda('reduce-part'),
        FinishReduceFunctionArn: lambda('finish-reduce'),
        ValidateFunctionArn: lambda('validate'),
        PublishFunctionArn: lambda('publish'),
        PcaFunctionArn: lambda('pca'),
        PcaPartFunctionArn: lambda('pca-part'),
        PublishPcaFunctionArn: lambda('publish-pca'),
        UpdateIndexFunctionArn: lambda('update-index'),
        ReportFunctionArn: lambda('report'),
        PcaDefault: 'null',
        IndexDefault: 'false',
        ReduceParallelism: '1',
      }),
    ),
  });
});
afterAll(async () => {
  await sfn.stop();
  await cloudFormation.stop();
  await lambdaService.stop();
});
beforeEach(() => {
  sfn.requests.length = 0;
  sfn.executions.clear();
  delete sfn.onDescribeExecution;
  lambdaService.account = { concurrentExecutions: 1000, unreservedConcurrentExecutions: 1000 };
  lambdaService.reserved.clear();
  delete lambdaService.failAccountSettings;
  lambdaService.requests.length = 0;
});

describe('featurize start', () => {
  it("finds the state machine in the stack's outputs, starts a run over the deployment's input prefix and prints its ARN", async () => {
    const { code, stdout } = await featurize('start', '--bucket', 'fruits');
    expect(code).toBe(0);
    const [start] = startRequests();
    expect(start).toMatchObject({ stateMachineArn, name: expect.stringMatching(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/) });
    expect(JSON.parse(String(start?.input))).toEqual({ input: { bucket: 'fruits', prefix: 'images/' } });
    expect(stdout.trim()).toBe(`${stateMachineArn.replace(':stateMachine:', ':execution:')}:${start?.name}`);
    expect(cloudFormation.requests.map((r) => [r.get('Action'), r.get('StackName')])).toContainEqual(['DescribeStacks', 'Featurize']);
  });

  it('sends the whole output location with --out-prefix (the definition merges top-level keys), --pca and --index', async () => {
    const { code } = await featurize(
      'start',
      '--bucket',
      'fruits',
      '--prefix',
      'images/Kiwi',
      '--out-prefix',
      'experiments/kiwi',
      '--run-id',
      'kiwi-1',
      '--pca',
      '0.9',
      '--index',
    );
    expect(code).toBe(0);
    expect(startRequests()[0]).toMatchObject({ name: 'kiwi-1' });
    expect(JSON.parse(String(startRequests()[0]?.input))).toEqual({
      input: { bucket: 'fruits', prefix: 'images/Kiwi/' },
      output: { bucket: 'fruits', prefix: 'experiments/kiwi/' },
      pca: 0.9,
      index: true,
    });
  });

  it('refuses an output prefix the deployment was not granted, naming the setting that grants it, before starting anything', async () => {
    const { code, stderr } = await featurize('start', '--bucket', 'fruits', '--out-prefix', 'experiments/pear');
    expect(code).toBe(1);
    expect(stderr).toBe(
      'featurize: the deployment may write under datasets/mobilenet-v2/, experiments/kiwi/ of s3://fruits/ only, not ' +
        's3://fruits/experiments/pear/: deploy with -c extraOutputPrefixes=experiments/pear/ to grant it\n',
    );
    expect(startRequests()).toEqual([]);
  });

  it('refuses an output inside the input, before starting anything', async () => {
    const { code, stderr } = await featurize('start', '--bucket', 'fruits', '--prefix', 'data/', '--out-prefix', 'data/out/');
    expect(code).toBe(1);
    expect(stderr).toMatch(/^featurize: the output s3:\/\/fruits\/data\/out\/ and the input s3:\/\/fruits\/data\/ overlap/);
    expect(startRequests()).toEqual([]);
  });

  it('says which stack is missing', async () => {
    const { code, stderr } = await featurize('start', '--bucket', 'fruits', '--stack', 'Nope');
    expect(code).toBe(1);
    expect(stderr).toContain('no stack Nope in this account and region');
  });

  it('with --wait, follows the map run and exits 0 with the validation summary when the run succeeds', async () => {
    script([
      (e) => (e.mapRuns = [{ mapRunArn: `${e.executionArn}:map`, status: 'RUNNING', itemCounts: counts(0, 0, 10) }]),
      (e) => (e.mapRuns![0]!.itemCounts = counts(6, 1, 10)),
      (e) => {
        e.mapRuns = [{ ...e.mapRuns![0]!, status: 'SUCCEEDED', itemCounts: counts(9, 1, 10) }];
        e.status = 'SUCCEEDED';
        e.output = JSON.stringify({
          validation: { passed: true, summary: '9 vectors, 1 failure (10%): checks passed' },
          // What the UpdateIndex step's Catch keeps: the run succeeded all the same.
          indexResult: null,
          indexError: {
            Error: 'PublishLeaseBusyError',
            Cause: JSON.stringify({ errorMessage: 'the output is being published by run r-2' }),
          },
        });
      },
    ]);
    const { code, stdout, stderr } = await featurize('start', '--bucket', 'fruits', '--wait', '--interval', '0.01', '--run-id', 'r-ok');
    expect(code).toBe(0);
    // Not a terminal: one line per change of the counts.
    expect(stderr.split('\n').filter(Boolean)).toEqual([
      'featurize: 0/10 images, 0 failed',
      'featurize: 7/10 images, 1 failed',
      'featurize: 10/10 images, 1 failed',
    ]);
    expect(stdout).toContain('status     SUCCEEDED');
    expect(stdout).toContain('images     9 succeeded, 1 failed, 0 pending (of 10)');
    expect(stdout).toContain('validation passed: 9 vectors, 1 failure (10%): checks passed');
    expect(stdout).toContain(
      'index      not updated (the dataset is published): PublishLeaseBusyError: the output is being published by run r-2',
    );
    expect(stdout).toContain('dataset    s3://fruits/datasets/mobilenet-v2/features/');
    expect(stdout).toContain('report     s3://fruits/datasets/mobilenet-v2/runs/r-ok/report.json');
  });

  it('with --wait, exits non-zero when the validation fails, printing its cause', async () => {
    script([
      (e) => {
        e.status = 'FAILED';
        e.error = 'ValidationFailed';
        e.cause = '2 vectors are not finite';
      },
    ]);
    const { code, stdout } = await featurize('start', '--bucket', 'fruits', '--wait', '--interval', '0.01');
    expect(code).toBe(1);
    expect(stdout).toContain('status     FAILED');
    expect(stdout).toContain('error      ValidationFailed: 2 vectors are not finite');
  });
});

describe('featurize start, against the Lambda concurrency of the account', () => {
  it("warns, and starts all the same, when the account's unreserved concurrency is below the run's maxConcurrency", async () => {
    // A new account: 10 concurrent executions in all, none reserved.
    lambdaService.account = { concurrentExecutions: 10, unreservedConcurrentExecutions: 10 };
    const { code, stdout, stderr } = await featurize('start', '--bucket', 'fruits');
    expect(code).toBe(0);
    expect(stdout).toMatch(/:execution:/);
    expect(startRequests()).toHaveLength(1);
    expect(stderr.trim()).toBe(
      'featurize: warning: this run asks for up to 100 extraction batches at once (maxConcurrency), but this account leaves 10 ' +
        'concurrent Lambda executions in eu-west-1 to functions without reserved concurrency (account limit 10): batches beyond ' +
        'it are throttled and retried, and may fail the run; deploy with a smaller -c maxConcurrency=N, or ask AWS for a higher ' +
        '"Concurrent executions" quota (Service Quotas)',
    );
    // It asked about the very function the deployed map invokes.
    expect(lambdaService.requests).toEqual(['/2016-08-19/account-settings', `/2019-09-30/functions/${lambda('extract')}/concurrency`]);
  });

  it("says nothing when the account can run the run's batches, and judges by the extract function's reservation when it has one", async () => {
    expect((await featurize('start', '--bucket', 'fruits')).stderr).toBe('');
    // Reserved: the shared pool no longer matters, the reservation does.
    lambdaService.account = { concurrentExecutions: 200, unreservedConcurrentExecutions: 100 };
    lambdaService.reserved.set(lambda('extract'), 100);
    expect((await featurize('start', '--bucket', 'fruits')).stderr).toBe('');
    lambdaService.reserved.set(lambda('extract'), 40);
    const { code, stderr } = await featurize('start', '--bucket', 'fruits');
    expect(code).toBe(0);
    expect(stderr).toContain("the extract function's reserved concurrency is 40");
  });

  it('notes, without failing, when it may not read the account settings', async () => {
    lambdaService.failAccountSettings = { type: 'AccessDeniedException', status: 403, message: 'not authorized' };
    const { code, stderr } = await featurize('start', '--bucket', 'fruits');
    expect(code).toBe(0);
    expect(stderr.trim()).toBe("featurize: note: could not read this account's Lambda concurrency (AccessDeniedException): not checked");
    expect(startRequests()).toHaveLength(1);
  });

  it('counts a MaxConcurrency of 0 as the Distributed Map limit of 10,000 batches', () => {
    const account = { accountLimit: 1000, unreserved: 1000 };
    expect(concurrencyShortfall(0, account)).toContain('asks for up to unlimited extraction batches');
    expect(concurrencyShortfall(1000, account)).toBeUndefined();
    expect(concurrencyShortfall(1001, account)).toContain('leaves 1000 concurrent Lambda executions in this region');
    expect(concurrencyShortfall(50, { ...account, extractReserved: 0 })).toContain('reserved concurrency is 0');
  });
});

describe('featurize status', () => {
  it('shows the state, the images so far (of the extraction map, not the reduce fan-out) and where the results go, from the execution and the deployed defaults', async () => {
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:upload-1`;
    const mapRunPrefix = stateMachineArn.replace(':stateMachine:', ':mapRun:');
    sfn.executions.set(executionArn, {
      executionArn,
      stateMachineArn,
      name: 'upload-1',
      input: JSON.stringify({ manifest: { bucket: 'fruits', key: 'datasets/mobilenet-v2/manifests/upload-1.json' } }),
      status: 'RUNNING',
      startDate: new Date(),
      mapRuns: [
        // Map Run ARNs name their state machine and map: `…:mapRun:<stateMachineName>/<map state>:<id>`.
        { mapRunArn: `${mapRunPrefix}/ReduceParts:2`, status: 'SUCCEEDED', itemCounts: counts(4, 0, 4) },
        {
          mapRunArn: `${mapRunPrefix}/ExtractManifest:1`,
          status: 'RUNNING',
          itemCounts: { ...counts(40, 2, 100), pending: 50, running: 8 },
        },
      ],
    });
    const { code, stdout } = await featurize('status', executionArn);
    expect(code).toBe(0);
    expect(stdout.split('\n')).toEqual([
      'run        upload-1',
      'status     RUNNING',
      'images     40 succeeded, 2 failed, 58 pending (of 100)',
      'dataset    s3://fruits/datasets/mobilenet-v2/features/',
      'report     s3://fruits/datasets/mobilenet-v2/runs/upload-1/report.json',
      'page       s3://fruits/datasets/mobilenet-v2/runs/upload-1/report.html',
      '',
    ]);
  });

  it('names an unknown execution', async () => {
    const { code, stderr } = await featurize('status', `${stateMachineArn.replace(':stateMachine:', ':execution:')}:nope`);
    expect(code).toBe(1);
    expect(stderr).toContain('Execution Does Not Exist');
  });
});
