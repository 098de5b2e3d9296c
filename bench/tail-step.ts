/**
 * One step after extraction (reduce, validate or publish), run by bench/tail.ts in a process of its own, as one
 * Lambda invocation runs it: the handler's own function, without the middy wrapping. Sends the parent (IPC) the
 * step's result, its seconds, and the process's peak resident memory (getrusage maxRSS), which is then this
 * child's alone.
 *
 *   fork('bench/tail-step.ts', [JSON.stringify({ step, event })])
 */
import type { RunEvent, ValidateEvent } from '../statemachine/contracts.ts';

export type TailStepName = 'reduce' | 'validate' | 'publish';

export interface TailStepRequest {
  step: TailStepName;
  /** reduce: the run's event; validate: the run's event with the reducer's result; publish: { runId, output }. */
  event: RunEvent | ValidateEvent;
}

export interface TailStepReport {
  result: unknown;
  seconds: number;
  peakMiB: number;
}

const request = JSON.parse(process.argv[2] ?? '{}') as TailStepRequest;
// Imported here, only the step's own module: what a step does not load must not count in its peak memory.
const work = await stepFunction(request);
const started = performance.now();
const result = await work();
const report: TailStepReport = {
  result,
  seconds: (performance.now() - started) / 1000,
  peakMiB: process.resourceUsage().maxRSS / 1024,
};
process.send?.(report);

async function stepFunction({ step, event }: TailStepRequest): Promise<() => Promise<unknown>> {
  switch (step) {
    case 'reduce': {
      const { reduce } = await import('../functions/reduce/handler.ts');
      return () => reduce(event);
    }
    case 'validate': {
      const { validate } = await import('../functions/validate/handler.ts');
      return () => validate(event as ValidateEvent);
    }
    case 'publish': {
      const { publish } = await import('../functions/publish/handler.ts');
      return () => publish({ runId: event.runId, output: event.output });
    }
  }
}
