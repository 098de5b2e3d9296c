/**
 * One worker thread standing in for one Lambda sandbox. It imports the function's handler module once, so the
 * module's cold-start work (settings, the model) happens once per worker, and then runs one event at a time.
 * The outcome travels back as Lambda's own payload shape: structured clone would drop a custom error's name,
 * and the state machine's Retry and Catch match on that name.
 */
import { parentPort, threadId } from 'node:worker_threads';
import { workerData } from 'piscina';
import { type LambdaHandler, localLambdaContext } from './lambda-context.ts';

export interface FunctionWorkerData {
  functionName: string;
  /** URL of a module exporting the middy `handler`, e.g. functions/extract/handler.ts. */
  handlerModule: string;
}

export type Invocation = { ok: true; result: unknown } | { ok: false; errorType: string; errorMessage: string; stackTrace: string[] };

/** What a handler module exports: its handler, and the part of its cold start still running after the import. */
interface HandlerModule {
  handler: LambdaHandler;
  /** E.g. the extract function's model loading: started at init, awaited by each event. */
  coldStart?: Promise<unknown>;
}

/** Posted once this thread's cold start has settled, either way: from then on the pool may end the thread. */
export interface ColdStartSettled {
  coldStartSettled: number;
}

const { functionName, handlerModule } = workerData as FunctionWorkerData;
const { handler, coldStart } = (await import(handlerModule)) as HandlerModule;
// A failed cold start is the handler's to report, to each event, as a Lambda's failed init is.
void Promise.allSettled([coldStart]).then(() => parentPort?.postMessage({ coldStartSettled: threadId } satisfies ColdStartSettled));

export default async function invoke(event: unknown): Promise<Invocation> {
  try {
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
