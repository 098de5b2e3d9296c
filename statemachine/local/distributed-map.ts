/**
 * One Map Run of a Distributed Map state: what aws-local-stepfunctions cannot do itself.
 *   ItemReader → ItemBatcher → child executions of the ItemProcessor, at most MaxConcurrency (and the local
 *   parallelism) at a time → ToleratedFailurePercentage → ResultWriter → `{ MapRunArn, ResultWriterDetails }`.
 * Each child execution is run by aws-local-stepfunctions, as its own inline Map runs one: the ItemProcessor's
 * Retry policies (ErrorEquals on the error's name, backoff, jitter) apply to each batch, and its Task states
 * call the local functions bound to their Resource.
 *
 * Past the tolerated failure threshold no new batch starts (the rest are PENDING in the results), the results
 * are still written, and the state fails with States.ExceedToleratedFailureThreshold for its Catch. Unlike AWS,
 * batches already running finish instead of being aborted (a worker cannot be stopped mid-batch without losing
 * its model), and are recorded as they ended.
 */
import { randomUUID } from 'node:crypto';
import { type RunOptions, StateMachine } from 'aws-local-stepfunctions';
import { logger } from '../../functions/shared/observability.ts';
import { maxInputBytesPerBatch } from '../definition.ts';
import type { DistributedMapState } from './distributed-map-state.ts';
import { StatesRuntimeError, ToleratedFailureThresholdExceededError } from './errors.ts';
import { type ExecutionContext, evaluateTemplate } from './evaluate-template.ts';
import { batchItems } from './item-batcher.ts';
import { readItems } from './item-reader.ts';
import type { Json, JsonObject } from './json.ts';
import { childExecutionArn, childStateMachineArn, mapRunArn } from './local-arns.ts';
import { type ChildExecution, writeResults } from './result-writer.ts';

export type TaskHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
type RetryIntervals = NonNullable<NonNullable<RunOptions['overrides']>['retryIntervalOverrides']>;

export interface ChildOutcome {
  items: number;
  status: 'SUCCEEDED' | 'FAILED';
  output?: Json;
  error?: { Error: string; Cause: string };
}

/** Follows a Map Run as it goes (the CLI's progress). */
export interface MapRunObserver {
  /** Before the ItemReader lists anything: the runner starts the map's workers then, so models load meanwhile. */
  mapRunStarting?(): void;
  mapRunStarted?(run: { mapRunArn: string; items: number; batches: number }): void;
  childFinished?(child: ChildOutcome): void;
}

export interface DistributedMapRun {
  name: string;
  state: DistributedMapState;
  /** The ItemProcessor's Task states, by name, bound to the functions their Resource names. */
  taskHandlers: TaskHandlers;
  /** Batches running at once at most, whatever MaxConcurrency allows: the workers there are. */
  parallelism: number;
  /** Retry waits (ms) of the ItemProcessor's states, instead of their IntervalSeconds and backoff (tests). */
  retryIntervals?: RetryIntervals;
  observer?: MapRunObserver;
}

export async function runDistributedMap(run: DistributedMapRun, input: Json, context: ExecutionContext): Promise<Json> {
  const { state, observer } = run;
  const settings = await evaluateSettings(state, input, context);
  observer?.mapRunStarting?.();
  const items = await readItems(state.ItemReader, settings.reader);
  const batches = batchItems(items, { maxItems: settings.maxItems, maxBytes: settings.maxBytes }, settings.batchInput);

  const label = state.Label ?? run.name;
  const mapRunId = randomUUID();
  const arn = mapRunArn(label, mapRunId);
  logger.info('map run started', { mapRunArn: arn, items: items.length, batches: batches.length });
  observer?.mapRunStarted?.({ mapRunArn: arn, items: items.length, batches: batches.length });

  const processor = new StateMachine(state.ItemProcessor, { validationOptions: { noValidate: true } });
  const children: ChildExecution[] = batches.map((batch) => ({ status: 'PENDING', input: batch }));
  let failedItems = 0;
  let exceeded = false;

  const runChild = async (index: number) => {
    const batch = batches[index]!;
    const name = randomUUID();
    const executionArn = childExecutionArn(label, name);
    const startDate = new Date();
    const execution = processor.run(batch, {
      overrides: { taskResourceLocalHandlers: run.taskHandlers, retryIntervalOverrides: run.retryIntervals ?? {} },
      context: { Execution: { Id: executionArn, Name: name } },
    });
    void logRetries(execution.eventLogs, executionArn);
    const outcome: ChildOutcome = { items: (batch.Items as Json[]).length, status: 'SUCCEEDED' };
    try {
      outcome.output = (await execution.result) as Json;
    } catch (error) {
      outcome.status = 'FAILED';
      outcome.error = childError(((error as Error).cause ?? error) as Error);
      failedItems += outcome.items;
      exceeded ||= failedItems * 100 > settings.toleratedFailurePercentage * items.length;
    }
    children[index] = {
      status: outcome.status,
      executionArn,
      name,
      stateMachineArn: childStateMachineArn(label),
      input: batch,
      startDate,
      stopDate: new Date(),
      ...(outcome.output !== undefined ? { output: outcome.output } : {}),
      ...(outcome.error ? { error: outcome.error } : {}),
    };
    observer?.childFinished?.(outcome);
  };

  const limit = Math.min(settings.maxConcurrency === 0 ? Number.POSITIVE_INFINITY : settings.maxConcurrency, run.parallelism);
  const running = new Set<Promise<void>>();
  for (let index = 0; index < batches.length && !exceeded; index++) {
    const child: Promise<void> = runChild(index).finally(() => running.delete(child));
    running.add(child);
    if (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);

  const executionType = state.ItemProcessor.ProcessorConfig.ExecutionType === 'EXPRESS' ? 'EXPRESS' : 'STANDARD';
  const details = await writeResults(settings.writer, { arn, id: mapRunId, executionType }, children);
  const counts = { items: items.length, failedItems, pendingBatches: children.filter((c) => c.status === 'PENDING').length };
  if (exceeded) {
    logger.warn('map run failed', { mapRunArn: arn, ...counts });
    throw new ToleratedFailureThresholdExceededError(
      `The specified tolerated failure threshold was exceeded: ${failedItems} of ${items.length} items failed, ` +
        `${settings.toleratedFailurePercentage}% tolerated`,
    );
  }
  logger.info('map run succeeded', { mapRunArn: arn, ...counts });
  return { MapRunArn: arn, ResultWriterDetails: { ...details } };
}

interface MapRunSettings {
  reader: JsonObject;
  writer: JsonObject;
  batchInput?: JsonObject;
  maxItems?: number;
  maxBytes: number;
  maxConcurrency: number;
  toleratedFailurePercentage: number;
}

/** Every field that may hold a path, evaluated at once against the Map state's input, then checked as AWS checks them. */
async function evaluateSettings(state: DistributedMapState, input: Json, context: ExecutionContext): Promise<MapRunSettings> {
  const batcher = state.ItemBatcher;
  const valueOrPath = (key: string, value: number | undefined, path: string | undefined): JsonObject =>
    path !== undefined ? { [`${key}.$`]: path } : value !== undefined ? { [key]: value } : {};
  const evaluated = await evaluateTemplate(
    {
      reader: state.ItemReader.Parameters ?? {},
      writer: state.ResultWriter.Parameters,
      ...(batcher.BatchInput !== undefined ? { batchInput: batcher.BatchInput } : {}),
      ...valueOrPath('maxItems', batcher.MaxItemsPerBatch, batcher.MaxItemsPerBatchPath),
      ...valueOrPath('maxBytes', batcher.MaxInputBytesPerBatch, batcher.MaxInputBytesPerBatchPath),
      ...valueOrPath('maxConcurrency', state.MaxConcurrency, state.MaxConcurrencyPath),
      ...valueOrPath('tolerated', state.ToleratedFailurePercentage, state.ToleratedFailurePercentagePath),
    },
    input,
    context,
  );
  const maxItems = integerSetting(evaluated.maxItems, 'MaxItemsPerBatch', 1);
  const maxBytes = integerSetting(evaluated.maxBytes, 'MaxInputBytesPerBatch', 1, maxInputBytesPerBatch);
  const tolerated = evaluated.tolerated ?? 0;
  if (typeof tolerated !== 'number' || tolerated < 0 || tolerated > 100) {
    throw new StatesRuntimeError(`ToleratedFailurePercentage must be a number from 0 to 100, got ${JSON.stringify(tolerated)}`);
  }
  return {
    reader: evaluated.reader as JsonObject,
    writer: evaluated.writer as JsonObject,
    ...(evaluated.batchInput !== undefined ? { batchInput: evaluated.batchInput as JsonObject } : {}),
    ...(maxItems !== undefined ? { maxItems } : {}),
    maxBytes: maxBytes ?? maxInputBytesPerBatch,
    maxConcurrency: integerSetting(evaluated.maxConcurrency, 'MaxConcurrency', 0) ?? 0,
    toleratedFailurePercentage: tolerated,
  };
}

function integerSetting(value: Json | undefined, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new StatesRuntimeError(`${field} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * How a failed child execution reports its error. A function's error has the Cause Step Functions gives a
 * Lambda error (its JSON error payload); the interpreter's own States.* errors keep their message.
 */
function childError(error: Error): { Error: string; Cause: string } {
  if (error.name.startsWith('States.')) return { Error: error.name, Cause: error.message };
  const stackTrace = (error.stack ?? '')
    .split('\n')
    .slice(1)
    .map((frame) => frame.trim());
  return { Error: error.name, Cause: JSON.stringify({ errorMessage: error.message, errorType: error.name, stackTrace }) };
}

/** A batch that fails and is retried says so in the logs (--verbose); its final outcome is in the results. */
async function logRetries(events: ReturnType<StateMachine['run']>['eventLogs'], executionArn: string): Promise<void> {
  for await (const event of events) {
    if (event.type === 'StateFailed') {
      logger.info('batch attempt failed', { executionArn, state: event.state.name, error: event.Error, cause: String(event.Cause) });
    } else if (event.type === 'StateRetried') {
      logger.info('batch retried', { executionArn, state: event.state.name, attempt: event.retry.attempt });
    }
  }
}
