/**
 * statemachine/featurize.asl.json for aws-local-stepfunctions, filled and adapted exactly as the local runner
 * fills and adapts it, and started at any state: for tests that run a part of the state machine with its Task
 * states bound to the real handlers.
 */
import type { Context } from 'aws-lambda';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { type DefinitionSubstitutions, readDefinitionText, substituteDefinition } from '../../statemachine/definition.ts';
import { adaptDefinition } from '../../statemachine/local/adapt-definition.ts';
import { runDistributedMap, type TaskHandlers } from '../../statemachine/local/distributed-map.ts';
import type { Json } from '../../statemachine/local/json.ts';
import { type FunctionArnPlaceholder, functionArnPlaceholder, steps } from '../../statemachine/steps.ts';

export type JSONValue = Parameters<StateMachine['run']>[0];

export const lambdaContext = { functionName: 'local', awsRequestId: 'local' } as Context;

export const definitionText = await readDefinitionText();

/** Fills the `${Name}` placeholders as the CDK app does, then adapts the definition as the local runner does. */
function definitionWith(values: Record<string, string>): StateMachineDefinition {
  return adaptDefinition(substituteDefinition(definitionText, values)).definition;
}

export const substitutions: DefinitionSubstitutions = {
  InputBucket: 'fruits',
  InputPrefix: 'images/',
  OutputBucket: 'datasets',
  OutputPrefix: 'fruits/',
  GrantedOutputPrefixes: 'fruits/',
  MaxItemsPerBatch: '100',
  MaxInputBytesPerBatch: '262144',
  MaxConcurrency: '0',
  ToleratedFailurePercentage: '5',
  PcaDefault: 'null',
  IndexDefault: 'false',
  ReduceParallelism: '1',
  ...(Object.fromEntries(
    steps.map((step) => [functionArnPlaceholder(step), `arn:aws:lambda:local:000000000000:function:${step.folder}`]),
  ) as Record<FunctionArnPlaceholder, string>),
};

/**
 * The definition from `startAt` on; `stopAfter` (a Pass state's name) ends the execution there. The states
 * before `startAt` stay in the definition, unreachable: the library's own check is off for that reason only
 * (pca-report-states.test.ts validates the definition as written).
 */
export function from(startAt: string, values: Record<string, string> = substitutions, stopAfter?: string): StateMachine {
  const definition = definitionWith(values);
  definition.StartAt = startAt;
  if (stopAfter) definition.States[stopAfter] = { ...definition.States[stopAfter], Next: undefined, End: true } as never;
  return new StateMachine(definition, { validationOptions: { noValidate: true } });
}

/**
 * A handler for a Distributed Map state of the definition (a Task state once adapted): the local runner's own
 * Map Run executor, its ItemProcessor's Task states bound to `taskHandlers` (by state name).
 */
export function distributedMapHandler(
  name: string,
  taskHandlers: TaskHandlers,
  runId: string,
  values: Record<string, string> = substitutions,
) {
  const state = adaptDefinition(substituteDefinition(definitionText, values)).distributedMaps.get(name);
  if (!state) throw new Error(`${name} is no Distributed Map state of the definition`);
  return (input: JSONValue) => runDistributedMap({ name, state, taskHandlers, parallelism: 2 }, input as Json, executionContext(runId));
}

/** What AWS gives an execution's states as `$$`: its name (the run id) and start. */
export function executionContext(runId: string) {
  return { Execution: { Name: runId, StartTime: '2026-11-25T15:10:40.512Z' } };
}
