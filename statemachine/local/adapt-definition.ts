/**
 * The definition as aws-local-stepfunctions runs it, changed in memory only (the file stays the one contract):
 *  - each DISTRIBUTED Map state becomes a Task state of the same name, keeping its Comment, InputPath,
 *    ResultPath, ResultSelector, OutputPath, Retry, Catch and Next/End; the runner binds it to the Distributed
 *    Map executor, which reads the original state's fields;
 *  - a Task state without TimeoutSeconds gets the longest timeout a timer allows: on AWS it has none (the
 *    Lambda function's own timeout bounds it), where the library would stop it after 60 seconds;
 *  - a Choice rule's type test set to false (`"IsNull": false`), which the library never matches where AWS
 *    matches it when the test fails, becomes the equivalent `"Not": { …, "IsNull": true }`.
 */
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { ConfigError } from '../../functions/shared/errors.ts';
import { checkDistributedMap, type DistributedMapState, isDistributedMap, taskStateFields } from './distributed-map-state.ts';
import type { JsonObject } from './json.ts';
import { distributedMapArn } from './local-arns.ts';

const noTimeoutSeconds = Math.floor((2 ** 31 - 1) / 1000);

export interface AdaptedDefinition {
  definition: StateMachineDefinition;
  /** The original Distributed Map states, by name (their ItemProcessor adapted too). */
  distributedMaps: Map<string, DistributedMapState>;
}

export function adaptDefinition(definition: StateMachineDefinition): AdaptedDefinition {
  const distributedMaps = new Map<string, DistributedMapState>();
  const states = mapStates(definition.States as unknown as Record<string, JsonObject>, (name, state) => {
    if (!isDistributedMap(state as { Type: string })) return adaptState(state);
    const map = checkDistributedMap(name, state);
    distributedMaps.set(name, { ...map, ItemProcessor: adaptMachine(map.ItemProcessor) });
    const kept = Object.fromEntries(taskStateFields.filter((field) => field in state).map((field) => [field, state[field]!]));
    return { Type: 'Task', Resource: distributedMapArn(name), TimeoutSeconds: noTimeoutSeconds, ...kept };
  });
  return { definition: { ...definition, States: states } as unknown as StateMachineDefinition, distributedMaps };
}

/** A nested state machine (a Map's ItemProcessor, a Parallel branch) with its Task states adapted. */
function adaptMachine<Machine extends object>(machine: Machine): Machine {
  return {
    ...machine,
    States: mapStates((machine as { States: Record<string, JsonObject> }).States, (name, state) => {
      if (isDistributedMap(state as { Type: string })) {
        throw new ConfigError(
          `Distributed Map state ${name}: a Distributed Map inside another state is not implemented by the local runner`,
        );
      }
      return adaptState(state);
    }),
  };
}

function adaptState(state: JsonObject): JsonObject {
  switch (state.Type) {
    case 'Task':
      return 'TimeoutSeconds' in state || 'TimeoutSecondsPath' in state ? state : { ...state, TimeoutSeconds: noTimeoutSeconds };
    case 'Map':
      return state.ItemProcessor
        ? { ...state, ItemProcessor: adaptMachine(state.ItemProcessor as JsonObject) }
        : { ...state, Iterator: adaptMachine(state.Iterator as JsonObject) };
    case 'Parallel':
      return { ...state, Branches: (state.Branches as JsonObject[]).map(adaptMachine) };
    case 'Choice':
      return { ...state, Choices: (state.Choices as JsonObject[]).map(adaptChoiceRule) };
    default:
      return state;
  }
}

const typeTests = ['IsNull', 'IsPresent', 'IsNumeric', 'IsString', 'IsBoolean', 'IsTimestamp'];

function adaptChoiceRule(rule: JsonObject): JsonObject {
  const negated = typeTests.find((test) => rule[test] === false);
  if (negated) {
    const { Next, ...condition } = rule;
    return { Not: { ...condition, [negated]: true }, ...(Next !== undefined ? { Next } : {}) };
  }
  if (Array.isArray(rule.And)) return { ...rule, And: (rule.And as JsonObject[]).map(adaptChoiceRule) };
  if (Array.isArray(rule.Or)) return { ...rule, Or: (rule.Or as JsonObject[]).map(adaptChoiceRule) };
  if (rule.Not) return { ...rule, Not: adaptChoiceRule(rule.Not as JsonObject) };
  return rule;
}

function mapStates(states: Record<string, JsonObject>, adapt: (name: string, state: JsonObject) => JsonObject): Record<string, JsonObject> {
  return Object.fromEntries(Object.entries(states).map(([name, state]) => [name, adapt(name, state)]));
}
