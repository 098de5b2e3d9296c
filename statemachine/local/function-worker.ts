/**
 * One worker thread standing in for the Lambda sandboxes of the functions a run's maps invoke. It imports each
 * function's handler module once, so the module's cold-start work (settings, the model) happens once per thread:
 * the preloaded modules as the thread starts, the others at their first event. Then it runs one event at a time.
 * The outcome travels back as Lambda's own payload shape: structured clone would drop a custom error's name,
 * and the state machine's Retry and Catch match on that name.
 */
import { parentPort, threadId } from 'node:worker_threads';
import { workerData } from 'piscina';
import { type LambdaHandler, localLambdaContext } from './lambda-context.ts';

export interface FunctionWorkerData {
  /** URLs of handler modules to import as the thread starts, e.g. functions/extract/handler.ts. */
  preload: string[];
}

/** One event for one function: the URL of the module exporting its middy `handler`, and its name for the context. */
export interface FunctionTask {
  functionName: string;
  handlerModule: string;
  event: unknown;
}

export type Invocation = { ok: true; result: unknown } | { ok: false; errorType: string; errorMessage: string; stackTrace: string[] };

/** What a handler module exports: its handler, and the part of its cold start still running after the import. */
interface HandlerModule {
  handler: LambdaHandler;
  /** E.g. the extract function's model loading: started at init, awaited by each event. */
  coldStart?: Promise<unknown>;
}

/** Posted once this thread's preloaded cold starts have settled, either way: from then on the pool may end the thread. */
export interface ColdStartSettled {
  coldStartSettled: number;
}

const modules = new Map<string, Promise<HandlerModule>>();
const imported = (url: string) => {
  let module = modules.get(url);
  if (!module) modules.set(url, (module = import(url) as Promise<HandlerModule>));
  return module;
};

const preloaded = await Promise.all((workerData as FunctionWorkerData).preload.map(imported));
// A failed cold start is the handler's to report, to each event, as a Lambda's failed init is.
void Promise.allSettled(preloaded.map((module) => module.coldStart)).then(() =>
  parentPort?.postMessage({ coldStartSettled: threadId } satisfies ColdStartSettled),
);

export default async function invoke({ functionName, handlerModule, event }: FunctionTask): Promise<Invocation> {
  try {
    const { handler } = await imported(handlerModule);
    return { ok: true, result: await handler(event, localLambdaContext(functionName)) };
  } catch (thrown) {
    const error = thrown instanceof Error ? thrown : new Error(String(thrown));
    return {
      ok: false,
      errorType: error.name,
      errorMessage: error.message,
      stackTrace: (error.stack ?? '')
        .split('\n')
        .slice(1)
        .map((line) => line.trim()),
    };
  }
}
