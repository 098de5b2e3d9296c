/**
 * The whole pipeline on this machine: the definition filled with the run's settings (as the CDK app fills it
 * with a deployment's), each step's function (statemachine/steps.ts) bound to the same handler module its Lambda
 * runs, and one execution.
 */

import type { PcaSetting } from '../../functions/shared/pca/pca-setting.ts';
import type { StorageLocation } from '../../functions/shared/storage/storage.ts';
import { type DefinitionSubstitutions, loadDefinition, maxInputBytesPerBatch } from '../definition.ts';
import { type FunctionArnPlaceholder, functionArnPlaceholder, type Step, type StepName, stepNamed, steps } from '../steps.ts';
import type { MapRunObserver } from './distributed-map.ts';
import { type DistributedMapState, isDistributedMap } from './distributed-map-state.ts';
import { createFunctionPool, type FunctionPool, type PooledFunction } from './function-pool.ts';
import { type LambdaHandler, localLambdaContext } from './lambda-context.ts';
import { localFunctionArn } from './local-arns.ts';
import { type ExecutionOutcome, type LocalFunction, runLocalExecution } from './run-execution.ts';

/** The local stand-in for a step's function: `featurize-<folder>`. */
function localFunctionName(step: Pick<Step, 'folder'>): string {
  return `featurize-${step.folder}`;
}

/** The local function's ARN, shaped like a Lambda ARN. */
export function stepFunctionArn(name: StepName): string {
  return localFunctionArn(localFunctionName(stepNamed(name)));
}

/** What its Lambda's handler setting names: `functions/<folder>/handler.ts`, export `handler`. */
export function handlerModuleOf(step: Step): URL {
  return new URL(`../../functions/${step.folder}/handler.ts`, import.meta.url);
}

/** The module a step's function runs here: the one its Lambda runs, or the stand-in a test gives for it. */
function stepHandlerModule(step: (typeof steps)[number], handlers: PipelineSettings['handlers']): URL {
  return handlers?.[step.name] ?? handlerModuleOf(step);
}

export interface PipelineSettings {
  runId: string;
  /** Where the images are: an S3 bucket and prefix, or an absolute directory as the bucket. */
  input: Required<StorageLocation>;
  /** Where the dataset goes, likewise. */
  output: Required<StorageLocation>;
  maxItemsPerBatch: number;
  /** Batches running at once at most; 0: as many as there are workers. */
  maxConcurrency: number;
  toleratedFailurePercentage: number;
  /** PCA after validation: passed in the execution input, as `featurize start` and the console would. */
  pca?: PcaSetting;
  /** Update the nearest-neighbour index after publishing: passed in the execution input, as `pca` is. */
  index?: boolean;
  /**
   * The incremental path: a JSON manifest of the keys to process ([{ Key, Size }], keys relative to the input),
   * passed in the execution input as the upload trigger passes it (`featurize watch`).
   */
  manifest?: { bucket: string; key: string };
  /** Worker threads running the extract function, each with its own model. */
  workers: number;
  /** The extract workers' environment: their FEATURIZE_* settings, AWS_ENDPOINT_URL_S3... */
  env: NodeJS.ProcessEnv;
  observer?: MapRunObserver;
  /** Every Retry waits this long instead of its backoff (tests). */
  retryIntervalMs?: number;
  /** Other modules for some steps' functions to run (tests wrap the real handlers to inject failures). */
  handlers?: Partial<Record<StepName, URL>>;
  /**
   * Worker threads kept from run to run (`featurize watch`), made by `createPipelinePool` with this run's
   * `workers`, `env` and `handlers`: the run uses them and leaves them open. Without, the run starts its own.
   */
  pool?: FunctionPool;
}

export function substitutionsFor(settings: PipelineSettings): DefinitionSubstitutions {
  return {
    InputBucket: settings.input.bucket,
    InputPrefix: settings.input.prefix,
    OutputBucket: settings.output.bucket,
    OutputPrefix: settings.output.prefix,
    // Locally nothing is granted: the run writes where its settings say, and nowhere else.
    GrantedOutputPrefixes: settings.output.prefix,
    MaxItemsPerBatch: String(settings.maxItemsPerBatch),
    // Step Functions' ceiling: batches are bounded by MaxItemsPerBatch alone unless their keys are very long.
    MaxInputBytesPerBatch: String(maxInputBytesPerBatch),
    MaxConcurrency: String(settings.maxConcurrency),
    ToleratedFailurePercentage: String(settings.toleratedFailurePercentage),
    // Locally the run's own input says whether to reduce dimensions; a deployment may default it (CDK context).
    PcaDefault: 'null',
    // Likewise the index: the CLI says per run (featurize run --index, or an output that has one).
    IndexDefault: 'false',
    // The ReduceParts map runs a child per worker at once, or MaxConcurrency's fewer.
    ReduceParallelism: String(Math.min(settings.workers, settings.maxConcurrency || settings.workers)),
    ...(Object.fromEntries(steps.map((step) => [functionArnPlaceholder(step), stepFunctionArn(step.name)])) as Record<
      FunctionArnPlaceholder,
      string
    >),
  };
}

/**
 * Runs the definition with each step's function bound to its handler: a step a Distributed Map's children invoke
 * is fanned out over worker threads (one model each, for the extract function), the others run in this thread.
 */
export async function runPipeline(settings: PipelineSettings): Promise<ExecutionOutcome> {
  const definition = await loadDefinition(substitutionsFor(settings));
  const maps = Object.values(definition.States).filter(isDistributedMap) as unknown as DistributedMapState[];
  // Each step's function, by its ARN: its local name and the module its handler comes from.
  const stepFunctions = new Map<string, PooledFunction>(
    steps.map((step) => [
      stepFunctionArn(step.name),
      { functionName: localFunctionName(step), handlerModule: stepHandlerModule(step, settings.handlers) },
    ]),
  );
  // The steps the maps invoke run on one pool of worker threads: the caller's, or one started when the first map
  // begins (not before CheckRun, which may refuse the run in a moment).
  let pool = settings.pool;
  const startPool = () => (pool ??= createPipelinePool(settings));
  const functions: Record<string, LocalFunction> = {};
  const preloads = new Map<string, () => void>();
  for (const [arn, fn] of stepFunctions) {
    if (maps.some((map) => mapResources(map).includes(arn))) {
      functions[arn] = (event) => startPool().invoke(fn, event);
    } else {
      const local = inThisThread(fn);
      functions[arn] = local.invoke;
      preloads.set(arn, local.preload);
    }
  }
  const observer: MapRunObserver = {
    mapRunStarting: () => {
      startPool();
      settings.observer?.mapRunStarting?.();
    },
    mapRunStarted: (run) => {
      // The steps this thread runs after the map are imported while the map runs: after it, each import would
      // hold the run up with the workers idle.
      for (const name of everyRunAfterExtraction) preloads.get(stepFunctionArn(name))?.();
      settings.observer?.mapRunStarted?.(run);
    },
    childFinished: (child) => settings.observer?.childFinished?.(child),
  };
  try {
    return await runLocalExecution({
      definition,
      functions,
      executionName: settings.runId,
      input: {
        ...(settings.pca !== undefined ? { pca: settings.pca } : {}),
        ...(settings.index !== undefined ? { index: settings.index } : {}),
        ...(settings.manifest ? { manifest: settings.manifest } : {}),
      },
      parallelism: settings.workers,
      observer,
      observes: isExtractionMap,
      ...(settings.retryIntervalMs !== undefined ? { retryIntervalMs: settings.retryIntervalMs } : {}),
    });
  } finally {
    if (pool !== settings.pool) await pool?.close();
  }
}

/**
 * The worker threads the run's maps fan out over, the extract function (its model) imported as each starts, so
 * that the model loads while the items are being listed. Kept across runs with the same settings, they are warm
 * for the next run, as a Lambda sandbox is for the next event.
 */
export function createPipelinePool(settings: Pick<PipelineSettings, 'workers' | 'env' | 'handlers'>): FunctionPool {
  return createFunctionPool({
    preload: [stepHandlerModule(stepNamed('Extract'), settings.handlers)],
    threads: settings.workers,
    env: settings.env,
  });
}

/** The steps this thread runs after the extraction map in every run (PCA's and the index's only on request). */
const everyRunAfterExtraction: StepName[] = ['PlanReduce', 'FinishReduce', 'Validate', 'Publish', 'Report'];

/** A map whose children run the extract function: the one the progress follows (the reduce fan-out's is over in moments). */
export function isExtractionMap(map: DistributedMapState): boolean {
  return mapResources(map).includes(stepFunctionArn('Extract'));
}

function mapResources(map: DistributedMapState): string[] {
  return Object.values(map.ItemProcessor.States).flatMap((state) => ('Resource' in state ? [String(state.Resource)] : []));
}

/**
 * A function run in this thread, its module imported at its first invocation (after the settings are in place),
 * or ahead of it by `preload`; a failed import fails the invocation either way.
 */
function inThisThread({ functionName, handlerModule }: PooledFunction): { invoke: LocalFunction; preload: () => void } {
  let handler: Promise<LambdaHandler> | undefined;
  const load = () => {
    handler ??= import(handlerModule.href).then((module: { handler: LambdaHandler }) => module.handler);
    return handler;
  };
  return {
    invoke: async (event) => (await load())(event, localLambdaContext(functionName)),
    preload: () => void load().catch(() => {}),
  };
}
