/**
 * One worker thread standing in for one Lambda sandbox. It imports the function's handler module once, so the
 * module's cold-start work (settings, the model) happens once per worker, and then runs one event at a time.
 * The outcome travels back as Lambda's own payload shape: structured clone would drop a custom error's name,
 * and the state machine's Retry and Catch match on that name.
 */
import { workerData } from 'piscina';
import { type LambdaHandler, localLambdaContext } from './lambda-context.ts';

export interface FunctionWorkerData {
  functionName: string;
  /** URL of a module exporting the middy `handler`, e.g. functions/extract/handler.ts. */
  handlerModule: string;
}

export type Invocation = { ok: true; result: unknown } | { ok: false; errorType: string; errorMessage: string; stackTrace: string[] };

const { functionName, handlerModule } = workerData as FunctionWorkerData;
const { handler } = (await import(handlerModule)) as { handler: LambdaHandler };

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
