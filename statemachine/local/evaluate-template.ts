/**
 * Payload templates evaluated by aws-local-stepfunctions itself, through a one-state Pass machine: the `.$`
 * paths, `$$` context paths and intrinsic functions in the Distributed Map's own fields (ItemReader and
 * ResultWriter Parameters, BatchInput, the *Path limits) then behave exactly as everywhere else in the definition.
 */
import { type RunOptions, StateMachine } from 'aws-local-stepfunctions';
import type { Json, JsonObject } from './json.ts';

export type ExecutionContext = NonNullable<RunOptions['context']>;

export async function evaluateTemplate(template: JsonObject, input: Json, context: ExecutionContext): Promise<JsonObject> {
  const machine = new StateMachine(
    { StartAt: 'Evaluate', States: { Evaluate: { Type: 'Pass', Parameters: template, End: true } } },
    // The whole definition, these fields included, was validated before the execution started.
    { validationOptions: { noValidate: true } },
  );
  try {
    return (await machine.run(input, { context }).result) as JsonObject;
  } catch (error) {
    // The library wraps the state's error (States.Runtime for a path that selects nothing) in an ExecutionError.
    throw (error as Error).cause ?? error;
  }
}
