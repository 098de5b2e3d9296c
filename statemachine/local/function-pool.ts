/**
 * Worker threads running the functions a Distributed Map's children invoke: the local stand-in for their Lambda
 * functions' concurrent sandboxes. A thread imports a function's handler module once (one model per thread for the
 * extract function), the preloaded ones as it starts, the others at their first event; the main thread only hands
 * out events. One pool serves every map of a run, so that the reduce's children run on threads whose shared modules
 * (the SDK, zod, Arrow, the storage code) the extraction already loaded: ReducePart's import there takes a tenth
 * of its cold one, and the run never has more threads than workers.
 */
import { setFlagsFromString } from 'node:v8';
import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { FunctionError, RuntimeExitError } from './errors.ts';
import type { ColdStartSettled, FunctionTask, FunctionWorkerData, Invocation } from './function-worker.ts';

/** A function as the pool runs it: its name (the Lambda context's) and the module exporting its middy `handler`. */
export interface PooledFunction {
  functionName: string;
  handlerModule: URL;
}

export interface FunctionPoolOptions {
  /** Imported by every thread as it starts, so that their cold start (the extract function's model) runs meanwhile. */
  preload: readonly URL[];
  threads: number;
  /** The workers' environment: their FEATURIZE_* settings, AWS_ENDPOINT_URL_S3... */
  env: NodeJS.ProcessEnv;
}

export interface FunctionPool {
  /** Runs one event of `fn` on a free worker: the handler's result, or its error under the handler's error name. */
  invoke(fn: PooledFunction, event: unknown): Promise<unknown>;
  /**
   * Ends the threads once none is loading its model or running an event; events not yet started are dropped.
   * Whenever it is called (before, during or after model loading, after a worker died), it ends cleanly.
   */
  close(): Promise<void>;
}

/**
 * The old generation's growing factor, for every isolate of this process (V8 has no per-thread setting). An extract
 * worker's JavaScript allocates little (its work is native), so V8 picks its smallest factor, 1.1: the limit then
 * lies 8 MB plus the young generation's 16 MB above a live heap of 18 MB, within the slack at which V8 starts
 * marking at once, and in most runs a worker collects its whole heap every half second (80–100 times a run, some
 * 5 % of its CPU). 300 sets the largest factor V8 picks by itself (4): a worker's heap grows to about 100 MB
 * before a full collection instead of 42 (docs/performance-log.md).
 */
const heapGrowingPercent = 300;

export function createFunctionPool(options: FunctionPoolOptions): FunctionPool {
  // Read by V8 at each full collection: set before the threads' isolates exist, it holds from their first.
  setFlagsFromString(`--heap-growing-percent=${heapGrowingPercent}`);
  const workerData: FunctionWorkerData = { preload: options.preload.map((url) => url.href) };
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
  const settled = new Set<number>();
  pool.on('message', (message: unknown) => {
    if (isColdStartSettled(message)) settled.add(message.coldStartSettled);
  });
  return {
    async invoke(fn, event) {
      const task: FunctionTask = { functionName: fn.functionName, handlerModule: fn.handlerModule.href, event };
      let outcome: Invocation;
      try {
        outcome = (await pool.run(task)) as Invocation;
      } catch (error) {
        // The handler's own errors come back as values: a rejection means the worker itself died (it exited,
        // threw outside the handler, ran out of memory). Piscina starts a fresh worker in its place.
        throw new RuntimeExitError(`${fn.functionName}: the worker thread died: ${(error as Error).message}`, {
          cause: error,
        });
      }
      if (outcome.ok) return outcome.result;
      throw new FunctionError(outcome.errorType, outcome.errorMessage, outcome.stackTrace);
    },
    async close() {
      // Ending a thread (Worker.terminate, as Piscina's destroy does) stops its JavaScript wherever it is. Inside a
      // long synchronous native call (onnxruntime-node creating a session, or running one) it takes effect when
      // the call next uses N-API: that call fails, node-addon-api throws it as a C++ Napi::Error, and turning that
      // back into a JavaScript error fails too on a thread being ended, so node-addon-api throws again from its
      // catch block (napi-inl.h, Error::ThrowAsJavaScriptException, without NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS):
      // "terminate called after throwing an instance of 'Napi::Error'", and the whole process aborts. So threads
      // still starting (a replacement for a dead worker included) are waited for; then Piscina's close lets the
      // running events finish before it ends the threads, and starts no replacement meanwhile.
      for (;;) {
        const starting = pool.threads.filter((thread) => thread.threadId !== -1 && !settled.has(thread.threadId));
        if (starting.length === 0) break;
        await Promise.all(starting.map(coldStartSettledOrExited));
      }
      await pool.close({ force: true });
    },
  };
}

function isColdStartSettled(message: unknown): message is ColdStartSettled {
  return typeof (message as Partial<ColdStartSettled> | null)?.coldStartSettled === 'number';
}

/** Resolves when the thread has posted that its cold start settled, or has exited (a failed import, a crash). */
function coldStartSettledOrExited(thread: Worker): Promise<void> {
  // Piscina's threads do not keep the process alive; this one must until then, or the process would end with
  // the thread mid-load, and ending the process ends the thread the same abrupt way.
  thread.ref();
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      if (isColdStartSettled(message)) done();
    };
    const done = () => {
      thread.off('message', onMessage).off('exit', done);
      resolve();
    };
    thread.on('message', onMessage).on('exit', done);
  });
}
