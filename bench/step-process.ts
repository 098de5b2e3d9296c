/**
 * Runs one step's invocation in a process of its own (bench/tail-step.ts), as one Lambda invocation runs it, and
 * resolves with what the child reports: its result, seconds, CPU seconds and peak memory.
 */
import { fork } from 'node:child_process';
import type { TailStepReport, TailStepRequest } from './tail-step.ts';

const stepScript = new URL('./tail-step.ts', import.meta.url).pathname;

export function runStepProcess(request: TailStepRequest): Promise<TailStepReport> {
  return new Promise((resolve, reject) => {
    // stdout (the functions' JSON logs) is dropped; stderr shows a child's failure.
    const child = fork(stepScript, [JSON.stringify(request)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    let report: TailStepReport | undefined;
    child.on('message', (message) => {
      report = message as TailStepReport;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0 && report) resolve(report);
      else reject(new Error(`the ${request.step} child exited with code ${code} without its figures`));
    });
  });
}
