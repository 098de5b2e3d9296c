/**
 * One execution of the state machine on this machine. aws-local-stepfunctions runs the definition; its Task
 * states call local functions bound to their Resource ARNs (its task resource overrides), and each Distributed
 * Map state, turned into a Task state (adapt-definition.ts), runs through our Map Run executor.
 */
import { ExecutionError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { ConfigError } from '../../functions/shared/errors.ts';
import { logger } from '../../functions/shared/observability.ts';
import { adaptDefinition } from './adapt-definition.ts';
import { type MapRunObserver, runDistributedMap, type TaskHandlers } from './distributed-map.ts';
import type { DistributedMapState } from './distributed-map-state.ts';
import type { ExecutionContext } from './evaluate-template.ts';
import type { Json } from './json.ts';
import { executionArn } from './local-arns.ts';

/** A local stand-in for a Lambda function: the event in, its result out, or an error under the function's error name. */
export type LocalFunction = (event: Json) => Promise<unknown>;

export interface LocalExecution {
  /** The definition with its placeholders filled (definition.ts). */
  definition: StateMachineDefinition;
  /** The functions the Task states' Resource ARNs stand for. */
  functions: Readonly<Record<string, LocalFunction>>;
  /** `$$.Execution.Name`: the run id. */
  executionName: string;
  input?: Json;
  /** Batches of a Distributed Map running at once at most: the workers there are. */
  parallelism: number;
  /** Every Retry waits this long instead of its IntervalSeconds and backoff (tests). */
  retryIntervalMs?: number;
  observer?: MapRunObserver;
  /** The Distributed Maps the observer follows (default: every one). */
  observes?: (map: DistributedMapState) => boolean;
}

export interface ExecutionOutcome {
  status: 'SUCCEEDED' | 'FAILED';
  output?: Json;
  error?: { Error: string; Cause: string };
  /** Each state's last output, by state name: what the run produced, also when it failed later. */
  stateOutputs: ReadonlyMap<string, Json>;
}

type States = StateMachineDefinition['States'];

export async function runLocalExecution(execution: LocalExecution): Promise<ExecutionOutcome> {
  // The Distributed Map's fields are checked here. The library's own check of what it runs (asl-validator, with ARNs
  // and paths) is done once by the tests, on this very adaptation (adapt-definition.test.ts), not at every run:
  // it compiles its JSON schemas at each call, 0.3 s of CPU before a run's first image.
  const { definition, distributedMaps } = adaptDefinition(execution.definition);
  const input = execution.input ?? {};
  const context: ExecutionContext = {
    Execution: {
      Id: executionArn(execution.executionName),
      Name: execution.executionName,
      Input: input,
      StartTime: new Date().toISOString(),
    },
  };
  const taskHandlers = bindTasks(execution.definition.States, execution.functions);
  for (const [name, state] of distributedMaps) {
    const map = {
      name,
      state,
      taskHandlers: bindTasks(state.ItemProcessor.States, execution.functions),
      parallelism: execution.parallelism,
      ...(execution.retryIntervalMs !== undefined
        ? { retryIntervals: retryIntervals(state.ItemProcessor.States, execution.retryIntervalMs) }
        : {}),
      ...(execution.observer && (execution.observes?.(state) ?? true) ? { observer: execution.observer } : {}),
    };
    taskHandlers[name] = (mapInput) => runDistributedMap(map, mapInput as Json, context);
  }

  const run = new StateMachine(definition, { validationOptions: { noValidate: true } }).run(input, {
    overrides: {
      taskResourceLocalHandlers: taskHandlers,
      retryIntervalOverrides: execution.retryIntervalMs !== undefined ? retryIntervals(definition.States, execution.retryIntervalMs) : {},
    },
    context,
  });
  const stateOutputs = new Map<string, Json>();
  const followed = followStates(run.eventLogs, stateOutputs);
  try {
    const output = (await run.result) as Json;
    await followed;
    return { status: 'SUCCEEDED', output, stateOutputs };
  } catch (error) {
    if (!(error instanceof ExecutionError)) throw error;
    await followed;
    const cause = error.cause as Error;
    return { status: 'FAILED', error: { Error: cause.name, Cause: cause.message }, stateOutputs };
  }
}

/** Each Task state of a machine bound, by its name, to the function its Resource ARN stands for. */
function bindTasks(states: States, functions: LocalExecution['functions']): TaskHandlers {
  const handlers: TaskHandlers = {};
  for (const [name, state] of Object.entries(states)) {
    if (state.Type !== 'Task') continue;
    const bound = functions[state.Resource];
    if (!bound) throw new ConfigError(`Task state ${name}: no local function for ${state.Resource}`);
    handlers[name] = async (input) => (await bound(input as Json)) as Json;
  }
  return handlers;
}

function retryIntervals(states: States, milliseconds: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(states)
      .filter(([, state]) => 'Retry' in state && state.Retry)
      .map(([name]) => [name, milliseconds]),
  );
}

/** Keeps each state's output as it exits, and traces the transitions in the logs (--verbose). */
async function followStates(events: ReturnType<StateMachine['run']>['eventLogs'], outputs: Map<string, Json>): Promise<void> {
  for await (const event of events) {
    if (event.type === 'StateEntered') logger.debug('state entered', { state: event.state.name });
    if (event.type === 'StateExited') outputs.set(event.state.name, event.state.output as Json);
    if (event.type === 'StateCaught') logger.info('state error caught', { state: event.state.name, next: event.catch.catcher.Next });
  }
}
