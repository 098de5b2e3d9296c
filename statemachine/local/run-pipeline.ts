/**
 * The whole pipeline on this machine: the definition filled with the run's settings (as the CDK app fills it
 * with a deployment's), its functions bound to the same handler modules the Lambdas run (extract fanned out
 * over worker threads; reduce, validate, publish, PCA and report in this thread, after the map), and one execution.
 */
import type { PcaSetting } from '../../functions/shared/pca/pca-setting.ts';
import type { StorageLocation } from '../../functions/shared/storage/storage.ts';
import { type DefinitionSubstitutions, loadDefinition } from './definition.ts';
import type { MapRunObserver } from './distributed-map.ts';
import { maxInputBytesPerBatch } from './distributed-map-state.ts';
import { createFunctionPool } from './function-pool.ts';
import { type LambdaHandler, localLambdaContext } from './lambda-context.ts';
import { localFunctionArn } from './local-arns.ts';
import { type ExecutionOutcome, type LocalFunction, runLocalExecution } from './run-execution.ts';

export const functionNames = {
  extract: 'featurize-extract',
  reduce: 'featurize-reduce',
  validate: 'featurize-validate',
  publish: 'featurize-publish',
  pca: 'featurize-pca',
  report: 'featurize-report',
} as const;

/** Each function's handler module: what its Lambda's handler setting names. */
export const handlerModules = {
  extract: new URL('../../functions/extract/handler.ts', import.meta.url),
  reduce: new URL('../../functions/reduce/handler.ts', import.meta.url),
  validate: new URL('../../functions/validate/handler.ts', import.meta.url),
  publish: new URL('../../functions/publish/handler.ts', import.meta.url),
  pca: new URL('../../functions/pca/handler.ts', import.meta.url),
  report: new URL('../../functions/report/handler.ts', import.meta.url),
};

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
  /** Another module for the extract workers to run (tests wrap the real handler to inject failures). */
  extractHandler?: URL;
}

export function substitutionsFor(settings: PipelineSettings): DefinitionSubstitutions {
  return {
    InputBucket: settings.input.bucket,
    InputPrefix: settings.input.prefix,
    OutputBucket: settings.output.bucket,
    OutputPrefix: settings.output.prefix,
    MaxItemsPerBatch: String(settings.maxItemsPerBatch),
    // Step Functions' ceiling: batches are bounded by MaxItemsPerBatch alone unless their keys are very long.
    MaxInputBytesPerBatch: String(maxInputBytesPerBatch),
    MaxConcurrency: String(settings.maxConcurrency),
    ToleratedFailurePercentage: String(settings.toleratedFailurePercentage),
    // Locally the run's own input says whether to reduce dimensions; a deployment may default it (CDK context).
    PcaDefault: 'null',
    ExtractFunctionArn: localFunctionArn(functionNames.extract),
    ReduceFunctionArn: localFunctionArn(functionNames.reduce),
    ValidateFunctionArn: localFunctionArn(functionNames.validate),
    PublishFunctionArn: localFunctionArn(functionNames.publish),
    PcaFunctionArn: localFunctionArn(functionNames.pca),
    ReportFunctionArn: localFunctionArn(functionNames.report),
  };
}

export async function runPipeline(settings: PipelineSettings): Promise<ExecutionOutcome> {
  const definition = await loadDefinition(substitutionsFor(settings));
  const extract = createFunctionPool({
    functionName: functionNames.extract,
    handlerModule: settings.extractHandler ?? handlerModules.extract,
    threads: settings.workers,
    env: settings.env,
  });
  try {
    return await runLocalExecution({
      definition,
      functions: {
        [localFunctionArn(functionNames.extract)]: extract.invoke,
        [localFunctionArn(functionNames.reduce)]: inThisThread(functionNames.reduce, handlerModules.reduce),
        [localFunctionArn(functionNames.validate)]: inThisThread(functionNames.validate, handlerModules.validate),
        [localFunctionArn(functionNames.publish)]: inThisThread(functionNames.publish, handlerModules.publish),
        [localFunctionArn(functionNames.pca)]: inThisThread(functionNames.pca, handlerModules.pca),
        [localFunctionArn(functionNames.report)]: inThisThread(functionNames.report, handlerModules.report),
      },
      executionName: settings.runId,
      input: {
        ...(settings.pca !== undefined ? { pca: settings.pca } : {}),
        ...(settings.manifest ? { manifest: settings.manifest } : {}),
      },
      parallelism: settings.workers,
      ...(settings.observer ? { observer: settings.observer } : {}),
      ...(settings.retryIntervalMs !== undefined ? { retryIntervalMs: settings.retryIntervalMs } : {}),
    });
  } finally {
    await extract.close();
  }
}

/** A function run in this thread, its module imported at its first invocation (after the settings are in place). */
function inThisThread(functionName: string, handlerModule: URL): LocalFunction {
  let handler: Promise<LambdaHandler> | undefined;
  return async (event) => {
    handler ??= import(handlerModule.href).then((module: { handler: LambdaHandler }) => module.handler);
    return (await handler)(event, localLambdaContext(functionName));
  };
}
