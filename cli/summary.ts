/** What a finished run prints: its outcome, the images' accounting, the time it took, where the results are. */
import { reportKey } from '../functions/shared/run-layout.ts';
import type { Storage } from '../functions/shared/storage/storage.ts';
import type { ExecutionOutcome } from '../statemachine/local/run-execution.ts';

/** The parts of the execution's state the summary reads (see the definition's Reduce and Validate states). */
interface RunState {
  mapError?: { Error: string; Cause: string } | null;
  reduce?: { listed: number; rows: number; failures: number; failureCodes?: Record<string, number> };
  validation?: { passed: boolean; summary: string };
}

export interface RunSummary {
  runId: string;
  outcome: ExecutionOutcome;
  output: Storage;
  workers: number;
  seconds: number;
}

export function printSummary({ runId, outcome, output, workers, seconds }: RunSummary): void {
  const state = (outcome.stateOutputs.get('Validate') ?? outcome.stateOutputs.get('Reduce') ?? {}) as RunState;
  const lines = [
    outcome.status === 'SUCCEEDED'
      ? `run ${runId} succeeded: ${state.validation?.summary ?? 'validated'}`
      : `run ${runId} FAILED: ${outcome.error?.Error}: ${outcome.error?.Cause}`,
  ];
  if (state.mapError) lines.push(`  map:      ${state.mapError.Error}: ${state.mapError.Cause}`);
  const reduce = state.reduce;
  if (reduce) {
    lines.push(`  images:   ${reduce.listed} listed, ${reduce.rows} vectors, ${reduce.failures} failures`);
    const codes = Object.entries(reduce.failureCodes ?? {}).sort(([, a], [, b]) => b - a);
    if (codes.length > 0) lines.push(`  failures: ${codes.map(([code, count]) => `${code} ${count}`).join(', ')}`);
    lines.push(`  time:     ${seconds.toFixed(1)} s, ${(reduce.listed / seconds).toFixed(1)} images/s on ${workers} workers`);
  } else {
    lines.push(`  time:     ${seconds.toFixed(1)} s`);
  }
  lines.push(`  dataset:  ${output.locationOf('features/')}`, `  report:   ${output.locationOf(reportKey(runId))}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
