/**
 * ARNs of the local stand-ins for AWS resources: shaped like the real ones (the definition's validator and
 * anyone reading a ResultWriter file expect ARNs), in a region and account that cannot be mistaken for AWS.
 */
const region = 'local';
const account = '000000000000';

/** The name the local execution gives the state machine (the CDK app names the deployed one). */
export const stateMachineName = 'featurize';

/** What a Task state's Resource is set to locally; the runner binds each one to a handler. */
export function localFunctionArn(functionName: string): string {
  return `arn:aws:lambda:${region}:${account}:function:${functionName}`;
}

export function executionArn(executionName: string): string {
  return `arn:aws:states:${region}:${account}:execution:${stateMachineName}:${executionName}`;
}

/** A Distributed Map's Map Run, as AWS names it: `mapRun:<state machine>/<Label or state name>:<id>`. */
export function mapRunArn(mapLabel: string, mapRunId: string): string {
  return `arn:aws:states:${region}:${account}:mapRun:${stateMachineName}/${mapLabel}:${mapRunId}`;
}

/** The state machine a Map Run's child executions run: the Map's ItemProcessor. */
export function childStateMachineArn(mapLabel: string): string {
  return `arn:aws:states:${region}:${account}:stateMachine:${stateMachineName}/${mapLabel}`;
}

export function childExecutionArn(mapLabel: string, childName: string): string {
  return `arn:aws:states:${region}:${account}:execution:${stateMachineName}/${mapLabel}:${childName}`;
}

/** The Resource a Distributed Map state gets once the runner has turned it into a Task state bound to its executor. */
export function distributedMapArn(stateName: string): string {
  return `arn:aws:states:${region}:${account}:distributedMap:${stateName}`;
}
