/**
 * Runs of the deployed pipeline, through the Step Functions API: the state machine (from the stack's outputs),
 * the locations its definition defaults to, executions, and the item counts of their Distributed Map run.
 * The run's settings are computed as the definition's ApplyDefaults state does: defaults, shallowly overridden
 * by the execution input.
 */
import { CloudFormationClient, DescribeStacksCommand, type Output } from '@aws-sdk/client-cloudformation';
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
import { normalizePrefix, type StorageLocation } from '../functions/shared/storage/storage.ts';

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
  error?: { error: string; cause: string };
}

/** Clients in the region of `arn` when given (an ARN names its region), else the SDK's configured one. */
export function awsClients(arn?: string): { sfn: SFNClient; cloudFormation: CloudFormationClient } {
  const region = arn?.split(':')[3];
  const config = region ? { region } : {};
  return { sfn: new SFNClient(config), cloudFormation: new CloudFormationClient(config) };
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

/** The input and output locations the deployed definition's Prepare state defaults to. */
export async function deployedDefaults(sfn: SFNClient, stateMachineArn: string): Promise<RunLocations> {
  const { definition } = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn }));
  const defaults = (JSON.parse(definition ?? '{}') as { States?: { Prepare?: { Parameters?: { defaults?: RunLocations } } } }).States
    ?.Prepare?.Parameters?.defaults;
  if (!defaults?.input?.bucket || !defaults.output?.bucket) {
    throw new ConfigError(`${stateMachineArn} is not a featurize state machine: its Prepare state has no input and output defaults`);
  }
  return { input: defaults.input, output: defaults.output };
}

/** What ApplyDefaults computes: top-level keys of the execution input replace the defaults' (a shallow merge). */
export function runLocations(defaults: RunLocations, executionInput: Partial<RunLocations>): RunLocations {
  return { ...defaults, ...executionInput };
}

/** Refuses a run whose outputs would land inside its own input (a later listing would read them as images). */
export function checkSeparate({ input, output }: { input: StorageLocation; output: StorageLocation }): void {
  const [inPrefix, outPrefix] = [normalizePrefix(input.prefix), normalizePrefix(output.prefix)];
  if (input.bucket === output.bucket && (outPrefix.startsWith(inPrefix) || inPrefix.startsWith(outPrefix))) {
    throw new ConfigError(
      `the output s3://${output.bucket}/${outPrefix} and the input s3://${input.bucket}/${inPrefix} overlap: ` +
        'choose prefixes that do not contain one another',
    );
  }
}

export async function startRun(
  sfn: SFNClient,
  stateMachineArn: string,
  runId: string,
  input: Partial<RunLocations> & { pca?: number | null },
): Promise<string> {
  const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, name: runId, input: JSON.stringify(input) }));
  if (!executionArn) throw new Error('StartExecution returned no execution ARN');
  return executionArn;
}

/** The items of the execution's Distributed Map run; undefined before the map has started. */
async function mapRunItems(sfn: SFNClient, executionArn: string): Promise<ItemTally | undefined> {
  const { mapRuns } = await sfn.send(new ListMapRunsCommand({ executionArn }));
  const mapRunArn = mapRuns?.[0]?.mapRunArn;
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
  const final = execution.output ? (JSON.parse(execution.output) as { validation?: RunStatus['validation'] }) : {};
  return {
    executionArn,
    status: execution.status ?? 'UNKNOWN',
    runId,
    ...(items ? { items } : {}),
    dataset: `${output}${featuresPrefix}`,
    report: `${output}${reportKey(runId)}`,
    page: `${output}${reportHtmlKey(runId)}`,
    ...(final.validation ? { validation: final.validation } : {}),
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
