/**
 * A function fanned out over worker threads: the local stand-in for a Lambda function's concurrent sandboxes.
 * Each worker imports the handler module once (one model per worker); the main thread only hands out events.
 */
import { Piscina } from 'piscina';
import { FunctionError, RuntimeExitError } from './errors.ts';
import type { FunctionWorkerData, Invocation } from './function-worker.ts';

export interface FunctionPoolOptions {
  functionName: string;
  /** Module exporting the middy `handler` the workers run. */
  handlerModule: URL;
  threads: number;
  /** The workers' environment: their FEATURIZE_* settings, AWS_ENDPOINT_URL_S3... */
  env: NodeJS.ProcessEnv;
}

export interface FunctionPool {
  /** Runs one event on a free worker: the handler's result, or its error under the handler's error name. */
  invoke(event: unknown): Promise<unknown>;
  close(): Promise<void>;
}

export function createFunctionPool(options: FunctionPoolOptions): FunctionPool {
  const workerData: FunctionWorkerData = {
    functionName: options.functionName,
    handlerModule: options.handlerModule.href,
  };
  const pool = new Piscina({
    filename: new URL('./function-worker.ts', import.meta.url).href,
    // Every worker starts at once, so the models load while the items are being listed.
    minThreads: options.threads,
    maxThreads: options.threads,
    // Idle workers keep their event loop running, so that log lines written after a task still get out.
    atomics: 'disabled',
    env: options.env,
    workerData,
  });
  return {
    async invoke(event) {
      let outcome: Invocation;
      try {
        outcome = (await pool.run(event)) as Invocation;
      } catch (error) {
        // The handler's own errors come back as values: a rejection means the worker itself died (it exited,
        // threw outside the handler, ran out of memory). Piscina starts a fresh worker in its place.
        throw new RuntimeExitError(`${options.functionName}: the worker thread died: ${(error as Error).message}`, {
          cause: error,
        });
      }
      if (outcome.ok) return outcome.result;
      throw new FunctionError(outcome.errorType, outcome.errorMessage, outcome.stackTrace);
    },
    close: () => pool.destroy(),
  };
}
