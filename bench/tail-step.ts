/**
 * One invocation of a step after extraction (plan-reduce, one reduce-part or audit-part child, finish-reduce,
 * validate, publish, or update-index), run by bench/tail.ts or bench/search.ts in a process of its own, as one
 * Lambda invocation runs it: the handler's own function, without the middy wrapping. Sends the parent (IPC) the
 * step's result, its seconds and CPU seconds, and the process's peak resident memory: VmHWM of /proc/self/status, which starts
 * afresh with the process's own memory (getrusage's maxRSS does not: Linux carries it over from the parent through
 * fork and exec, so every child would report the bench's own peak).
 *
 *   fork('bench/tail-step.ts', [JSON.stringify({ step, event })])
 */
import { readFileSync } from 'node:fs';
import type {
  FinishReduceEvent,
  PlanReduceEvent,
  ReducePartEvent,
  RunEvent,
  UpdateIndexEvent,
  ValidateEvent,
} from '../statemachine/contracts.ts';
import { jsonArg } from './bench-args.ts';

/** The step's name in statemachine/steps.ts, uncapitalized (model:aws sizes each step from it). */
export type TailStepName = 'planReduce' | 'reducePart' | 'auditPart' | 'finishReduce' | 'validate' | 'publish' | 'updateIndex';

export type TailStepRequest =
  /** planReduce: the run's event and the reduce parallelism; publish: { runId, output } of it. */
  | { step: 'planReduce'; event: PlanReduceEvent }
  | { step: 'publish'; event: RunEvent }
  /** reducePart, auditPart: one ReduceParts child's event, a group of the plan (its two states in turn). */
  | { step: 'reducePart'; event: ReducePartEvent }
  | { step: 'auditPart'; event: ReducePartEvent }
  | { step: 'finishReduce'; event: FinishReduceEvent }
  /** validate: the run's event with the reduce's result. */
  | { step: 'validate'; event: ValidateEvent }
  | { step: 'updateIndex'; event: UpdateIndexEvent };

export interface TailStepReport {
  result: unknown;
  seconds: number;
  /** User and system CPU seconds of the whole process (every thread), start-up included. */
  cpuSeconds: number;
  peakMiB: number;
}

const request = jsonArg<TailStepRequest>(import.meta.filename, `'{"step":"validate","event":{...}}'`);
// Imported here, only the step's own module: what a step does not load must not count in its peak memory.
const work = await stepFunction(request);
const started = performance.now();
const result = await work();
const cpu = process.cpuUsage();
const report: TailStepReport = {
  result,
  seconds: (performance.now() - started) / 1000,
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
  peakMiB: peakResidentKiB() / 1024,
};
process.send?.(report);

/** The process's peak resident set (proc(5): VmHWM, in kB). */
function peakResidentKiB(): number {
  return Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
}

async function stepFunction(request: TailStepRequest): Promise<() => Promise<unknown>> {
  switch (request.step) {
    case 'planReduce': {
      const { planReduce } = await import('../functions/plan-reduce/handler.ts');
      return () => planReduce(request.event);
    }
    case 'reducePart': {
      const { reducePart } = await import('../functions/reduce-part/handler.ts');
      return () => reducePart(request.event);
    }
    case 'auditPart': {
      const { auditPartEvent } = await import('../functions/audit-part/handler.ts');
      return () => auditPartEvent(request.event);
    }
    case 'finishReduce': {
      const { finishReduce } = await import('../functions/finish-reduce/handler.ts');
      return () => finishReduce(request.event);
    }
    case 'validate': {
      const { validate } = await import('../functions/validate/handler.ts');
      return () => validate(request.event);
    }
    case 'publish': {
      const { publish } = await import('../functions/publish/handler.ts');
      return () => publish({ runId: request.event.runId, output: request.event.output });
    }
    case 'updateIndex': {
      const { updateIndex } = await import('../functions/update-index/handler.ts');
      return () => updateIndex(request.event);
    }
  }
}
