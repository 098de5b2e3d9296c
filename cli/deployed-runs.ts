/**
 * Runs of the deployed pipeline, through the Step Functions API: the state machine (from the stack's outputs),
 * the locations its definition defaults to, executions, and the item counts of their Distributed Map run.
 * The run's settings are computed as the definition's ApplyDefaults state does: defaults, shallowly overridden
 * by the execution input. Also the account's Lambda concurrency, against what a run asks for.
 */
import { CloudFormationClient, DescribeStacksCommand, type Output } from '@aws-sdk/client-cloudformation';
import { GetAccountSettingsCommand, GetFunctionConcurrencyCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  DescribeStateMachineCommand,
  ListMapRunsCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { ConfigError } from '../functions/shared/errors.ts';
import { featuresPrefix, reportHtmlKey, reportKey } from '../functions/shared/run-layout.ts';
import { separationProblem } from '../functions/shared/storage/locations.ts';
import { normalizePrefix, type StorageLocation } from '../functions/shared/storage/storage.ts';
import type { StepError, UpdateIndexResult } from '../statemachine/contracts.ts';
import { distributedMapStates, readDefinitionTextSync } from '../statemachine/definition.ts';
import { functionArnPlaceholder, stepNamed } from '../statemachine/steps.ts';
import { describeIndexStep } from './index-summary.ts';

/** The stack output holding the state machine's ARN (infra/featurize-stack.ts). */
export const stateMachineArnOutput = 'StateMachineArn';

export interface Location {
  bucket: string;
  prefix: string;
}

/** Where a run reads and writes: the deployment's defaults, or the execution's overrides of them. */
export interface RunLocations {
  input: Location;
  output: Location;
}

/** What the deployed definition says of every run, unless its execution input says otherwise. */
export interface DeployedDefaults extends RunLocations {
  /** The output prefixes of the output bucket a run may write (the roles' grants), the default one first. */
  grantedOutputPrefixes: string[];
  /** The extraction map's MaxConcurrency (0: no limit); undefined if the definition does not show it. */
  maxConcurrency?: number;
  /** The function the extraction map invokes for each batch. */
  extractFunctionArn?: string;
}

/** Images of a Distributed Map run: pending includes running; failed includes timed out and aborted. */
export interface ItemTally {
  total: number;
  succeeded: number;
  failed: number;
  pending: number;
}

export interface RunStatus {
  executionArn: string;
  status: string;
  runId: string;
  items?: ItemTally;
  /** s3:// URIs of the dataset, of this run's validation report and of its page for people. */
  dataset: string;
  report: string;
  page: string;
  validation?: { passed: boolean; summary: string };
  /** What its UpdateIndex step did, when it ran (cli/index-summary.ts). */
  index?: string;
  error?: { error: string; cause: string };
}

/** Clients in the region of `arn` when given (an ARN names its region), else the SDK's configured one. */
export function awsClients(arn?: string): { sfn: SFNClient; cloudFormation: CloudFormationClient } {
  const config = regionConfig(arn);
  return { sfn: new SFNClient(config), cloudFormation: new CloudFormationClient(config) };
}

/** `{ region }` of an ARN (its fourth field), or nothing: the SDK's configured region. */
export function regionConfig(arn?: string): { region?: string } {
  const region = arn?.split(':')[3];
  return region ? { region } : {};
}

export async function stateMachineArnOf(stackName: string, cloudFormation: CloudFormationClient): Promise<string> {
  let outputs: Output[];
  try {
    const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = Stacks?.[0]?.Outputs ?? [];
  } catch (error) {
    if ((error as { name?: string }).name !== 'ValidationError') throw error;
    throw new ConfigError(`no stack ${stackName} in this account and region: deploy it (npx cdk deploy) or pass --state-machine-arn`);
  }
  const arn = outputs.find((output) => output.OutputKey === stateMachineArnOutput)?.OutputValue;
  if (!arn) throw new ConfigError(`stack ${stackName} has no ${stateMachineArnOutput} output: is it the featurize stack?`);
  return arn;
}

interface DeployedDefinition {
  States?: Record<
    string,
    {
      Parameters?: { defaults?: Partial<RunLocations> & Record<string, unknown>; grantedOutput?: { prefixes?: string } };
      ItemProcessor?: { States?: Record<string, { Resource?: string; Parameters?: { FunctionName?: string } }> };
    }
  >;
}

/**
 * What the deployed definition's Prepare state defaults to (locations, the map's MaxConcurrency) and the function
 * its extraction map invokes.
 */
export async function deployedDefaults(sfn: SFNClient, stateMachineArn: string): Promise<DeployedDefaults> {
  const { definition } = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn }));
  const states = (JSON.parse(definition ?? '{}') as DeployedDefinition).States ?? {};
  const defaults = states.Prepare?.Parameters?.defaults;
  if (!defaults?.input?.bucket || !defaults.output?.bucket) {
    throw new ConfigError(`${stateMachineArn} is not a featurize state machine: its Prepare state has no input and output defaults`);
  }
  // Substituted as `States.StringToJson('100')`, so that the file stays valid JSON before substitution.
  const maxConcurrency = Number(/^States\.StringToJson\('(\d+)'\)$/.exec(String(defaults['maxConcurrency.$']))?.[1] ?? Number.NaN);
  const extractFunctionArn = Object.values(states)
    .flatMap((state) => Object.values(state.ItemProcessor?.States ?? {}))
    .map((task) => task.Parameters?.FunctionName ?? task.Resource)
    .find((arn) => arn !== undefined && /^arn:[\w-]+:lambda:/.test(arn));
  // A definition deployed before GrantedOutputPrefixes grants its output prefix alone.
  const granted = states.Prepare?.Parameters?.grantedOutput?.prefixes?.split(',') ?? [defaults.output.prefix];
  return {
    input: defaults.input,
    output: defaults.output,
    grantedOutputPrefixes: granted.map(normalizePrefix),
    ...(Number.isInteger(maxConcurrency) ? { maxConcurrency } : {}),
    ...(extractFunctionArn ? { extractFunctionArn } : {}),
  };
}

/** The Lambda concurrency a run's extraction batches draw on, in the state machine's account and region. */
export interface LambdaConcurrency {
  /** The account's concurrent executions in the region (the "Concurrent executions" quota). */
  accountLimit: number;
  /** What the functions without reserved concurrency share. */
  unreserved: number;
  /** The extract function's reserved concurrency, when it has one (and the caller may read it). */
  extractReserved?: number;
}

/**
 * GetAccountSettings (https://docs.aws.amazon.com/lambda/latest/api/API_GetAccountSettings.html), and the extract
 * function's reservation (GetFunctionConcurrency): with one, the function draws on it alone, not on the shared pool.
 * A caller not allowed to read the reservation gets the account's figures only.
 */
export async function lambdaConcurrency(lambda: LambdaClient, extractFunctionArn?: string): Promise<LambdaConcurrency> {
  const { AccountLimit: limit } = await lambda.send(new GetAccountSettingsCommand({}));
  const concurrency: LambdaConcurrency = {
    accountLimit: limit?.ConcurrentExecutions ?? 0,
    unreserved: limit?.UnreservedConcurrentExecutions ?? 0,
  };
  if (!extractFunctionArn) return concurrency;
  try {
    const { ReservedConcurrentExecutions: reserved } = await lambda.send(
      new GetFunctionConcurrencyCommand({ FunctionName: extractFunctionArn }),
    );
    return reserved === undefined ? concurrency : { ...concurrency, extractReserved: reserved };
  } catch {
    return concurrency;
  }
}

/** A Distributed Map's MaxConcurrency 0 means no limit: up to 10,000 child executions at once (Step Functions). */
const distributedMapMaxChildren = 10_000;

/**
 * Why a run whose map asks for `maxConcurrency` extraction batches at once (one Lambda invocation each) cannot get
 * them, or undefined when it can. Batches past the limit are throttled (Lambda.TooManyRequestsException), which
 * the definition retries with backoff; past the retries whole batches fail, and past the tolerated share, the map.
 */
export function concurrencyShortfall(maxConcurrency: number, concurrency: LambdaConcurrency, region = 'this region'): string | undefined {
  const wanted = maxConcurrency === 0 ? distributedMapMaxChildren : maxConcurrency;
  const asks = `this run asks for up to ${maxConcurrency === 0 ? 'unlimited' : wanted} extraction batches at once (maxConcurrency)`;
  const consequence = 'batches beyond it are throttled and retried, and may fail the run; deploy with a smaller -c maxConcurrency=N';
  if (concurrency.extractReserved !== undefined) {
    if (concurrency.extractReserved >= wanted) return undefined;
    return `${asks}, but the extract function's reserved concurrency is ${concurrency.extractReserved}: ${consequence}, or raise its reservation`;
  }
  if (concurrency.unreserved >= wanted) return undefined;
  return (
    `${asks}, but this account leaves ${concurrency.unreserved} concurrent Lambda executions in ${region} to functions ` +
    `without reserved concurrency (account limit ${concurrency.accountLimit}): ${consequence}, ` +
    'or ask AWS for a higher "Concurrent executions" quota (Service Quotas)'
  );
}

/** What ApplyDefaults computes: top-level keys of the execution input replace the defaults' (a shallow merge). */
export function runLocations(defaults: RunLocations, executionInput: Partial<RunLocations>): RunLocations {
  return { ...defaults, ...executionInput };
}

/**
 * Refuses an output the deployment's roles may not write (a run there would fail at its first write; CheckRun ends
 * it at once), naming the deployment setting that grants it.
 */
export function checkGrantedOutput(defaults: DeployedDefaults, output: Location): void {
  if (output.bucket === defaults.output.bucket && defaults.grantedOutputPrefixes.includes(normalizePrefix(output.prefix))) return;
  throw new ConfigError(
    `the deployment may write under ${defaults.grantedOutputPrefixes.join(', ')} of s3://${defaults.output.bucket}/ only, not ` +
      `s3://${output.bucket}/${output.prefix}: deploy with -c extraOutputPrefixes=${output.prefix} to grant it`,
  );
}

/** Refuses a run whose outputs would land inside its own input (the one rule: functions/shared/storage/locations.ts). */
export function checkSeparate({ input, output }: { input: StorageLocation; output: StorageLocation }): void {
  const problem = separationProblem(input, output);
  if (problem) throw new ConfigError(problem);
}

export async function startRun(
  sfn: SFNClient,
  stateMachineArn: string,
  runId: string,
  input: Partial<RunLocations> & { pca?: number | null; index?: boolean },
): Promise<string> {
  const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, name: runId, input: JSON.stringify(input) }));
  if (!executionArn) throw new Error('StartExecution returned no execution ARN');
  return executionArn;
}

/**
 * The Distributed Maps whose children do not extract (the reduce fan-out's counts parts, not images). A map run's
 * ARN names its map: `…:mapRun:<stateMachineName>/<label>:<id>`, the label being the state's name
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeMapRun.html).
 */
const otherMaps = distributedMapStates(readDefinitionTextSync())
  .filter(([, resources]) => !resources.includes(`\${${functionArnPlaceholder(stepNamed('Extract'))}}`))
  .map(([name]) => name);

/** The items of the execution's extraction map run; undefined before the map has started. */
async function mapRunItems(sfn: SFNClient, executionArn: string): Promise<ItemTally | undefined> {
  const { mapRuns } = await sfn.send(new ListMapRunsCommand({ executionArn }));
  const mapRunArn = mapRuns?.find((run) => !otherMaps.some((name) => run.mapRunArn?.includes(`/${name}:`)))?.mapRunArn;
  if (!mapRunArn) return undefined;
  const { itemCounts: c } = await sfn.send(new DescribeMapRunCommand({ mapRunArn }));
  if (!c) return undefined;
  return {
    total: c.total ?? 0,
    succeeded: c.succeeded ?? 0,
    failed: (c.failed ?? 0) + (c.timedOut ?? 0) + (c.aborted ?? 0),
    pending: (c.pending ?? 0) + (c.running ?? 0),
  };
}

/** The execution's state, item counts, where its dataset and report are, and how it ended. */
export async function describeRun(sfn: SFNClient, executionArn: string, defaults?: RunLocations): Promise<RunStatus> {
  const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  const input = JSON.parse(execution.input ?? '{}') as Partial<RunLocations> & { runId?: string };
  const locations = runLocations(defaults ?? (await deployedDefaults(sfn, execution.stateMachineArn ?? '')), input);
  const runId = input.runId ?? execution.name ?? '';
  const output = `s3://${locations.output.bucket}/${normalizePrefix(locations.output.prefix)}`;
  const items = await mapRunItems(sfn, executionArn);
  const final = execution.output
    ? (JSON.parse(execution.output) as Pick<RunStatus, 'validation'> & { indexResult?: UpdateIndexResult; indexError?: StepError })
    : {};
  const index = describeIndexStep(final.indexResult, final.indexError);
  return {
    executionArn,
    status: execution.status ?? 'UNKNOWN',
    runId,
    ...(items ? { items } : {}),
    dataset: `${output}${featuresPrefix}`,
    report: `${output}${reportKey(runId)}`,
    page: `${output}${reportHtmlKey(runId)}`,
    ...(final.validation ? { validation: final.validation } : {}),
    ...(index ? { index } : {}),
    ...(execution.error ? { error: { error: execution.error, cause: execution.cause ?? '' } } : {}),
  };
}

/** Polls until the execution ends, reporting the map run's items as they change; returns the final status. */
export async function waitForRun(
  sfn: SFNClient,
  executionArn: string,
  options: { intervalMs: number; onItems: (items: ItemTally) => void; defaults?: RunLocations },
): Promise<RunStatus> {
  for (;;) {
    const run = await describeRun(sfn, executionArn, options.defaults);
    if (run.items) options.onItems(run.items);
    if (run.status !== 'RUNNING') return run;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  }
}
