/** What a finished run prints: its outcome, the images' accounting, the time it took, where the results are. */
import { describeScope } from '../functions/shared/dataset/run-scope.ts';
import { featuresPrefix, reportHtmlKey, reportKey } from '../functions/shared/run-layout.ts';
import type { Storage } from '../functions/shared/storage/storage.ts';
import {
  type PcaRunResult,
  type PublishResult,
  type ReduceResult,
  type RunScope,
  type StepError,
  stepErrorText,
  type UpdateIndexResult,
  type ValidationResult,
} from '../statemachine/contracts.ts';
import type { ExecutionOutcome } from '../statemachine/local/run-execution.ts';
import { describeIndexStep } from './index-summary.ts';

/** The execution's state as the summary reads it: what each step's ResultPath (or Catch) put there. */
interface RunState {
  scope?: RunScope;
  checkError?: StepError | null;
  mapError?: StepError | null;
  reduce?: ReduceResult | null;
  validation?: ValidationResult | null;
  publish?: PublishResult | null;
  publishError?: StepError | null;
  pcaResult?: PcaRunResult | null;
  pcaError?: StepError | null;
  indexResult?: UpdateIndexResult | null;
  indexError?: StepError | null;
  reportError?: StepError;
}

export interface RunSummary {
  runId: string;
  outcome: ExecutionOutcome;
  output: Storage;
  workers: number;
  seconds: number;
}

export function printSummary({ runId, outcome, output, workers, seconds }: RunSummary): void {
  // The latest state that ran holds everything the earlier ones added (each keeps its input, ResultPath).
  const state = ([
    'Report',
    'PublishPca',
    'PcaParts',
    'Pca',
    'UpdateIndex',
    'Publish',
    'Validate',
    'FinishReduce',
    'ReduceParts',
    'PlanReduce',
    'RefusedRun',
    'CheckRun',
  ]
    .map((name) => outcome.stateOutputs.get(name))
    .find(Boolean) ?? {}) as RunState;
  if (state.checkError || outcome.error?.Error === 'OutputUnavailableError') {
    const cause = stepErrorText(state.checkError ?? outcome.error ?? {});
    const lines = [
      `run ${runId} REFUSED before it started: ${cause.replace(/^\w+Error: /, '')}`,
      `  dataset:  ${output.locationOf(featuresPrefix)} (unchanged)`,
    ];
    if (outcome.stateOutputs.has('Report') && !state.reportError) lines.push(`  report:   ${output.locationOf(reportHtmlKey(runId))}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return;
  }
  const lines = [
    outcome.status === 'SUCCEEDED'
      ? `run ${runId} succeeded: ${state.validation?.summary ?? 'validated'}`
      : `run ${runId} FAILED: ${outcome.error?.Error}: ${outcome.error?.Cause}`,
  ];
  if (state.mapError) lines.push(`  map:      ${stepErrorText(state.mapError)}`);
  const reduce = state.reduce;
  const counts = state.validation?.counts;
  if (reduce) {
    lines.push(
      counts
        ? `  images:   ${counts.listed} listed, ${counts.rows} vectors, ${counts.failures} failures, ${counts.skipped} skipped`
        : `  images:   ${reduce.listed} listed, ${reduce.rows} vectors, ${reduce.failures} failures or skipped`,
    );
    const codes = Object.entries(reduce.failureCodes ?? {}).sort(([, a], [, b]) => b - a);
    if (codes.length > 0) lines.push(`  failures: ${codes.map(([code, count]) => `${code} ${count}`).join(', ')}`);
    lines.push(`  time:     ${seconds.toFixed(1)} s, ${(reduce.listed / seconds).toFixed(1)} images/s on ${workers} workers`);
  } else {
    lines.push(`  time:     ${seconds.toFixed(1)} s`);
  }
  // Write, audit, publish: only a run that passed validation changes the dataset.
  const unpublished = state.publishError ? ' (publishing this run failed)' : ' (unchanged: this run was not published)';
  const published = state.publish && state.scope ? ` (${describeScope(state.scope)})` : '';
  lines.push(`  dataset:  ${output.locationOf(featuresPrefix)}${state.publish ? published : unpublished}`);
  if (state.publish?.repaired) lines.push(`  repaired: finished the interrupted publish of run ${state.publish.repaired} first`);
  if (state.publishError) lines.push(`  publish:  ${stepErrorText(state.publishError)}`);
  const index = describeIndexStep(state.indexResult, state.indexError);
  if (index) lines.push(`  ${index}`);
  if (state.pcaResult) {
    const { components, varianceShare, dataset } = state.pcaResult;
    lines.push(
      `  pca:      ${components} components, ${(varianceShare * 100).toFixed(1)}% of the variance, in ${output.locationOf(dataset)}`,
    );
  }
  if (state.pcaError) lines.push(`  pca:      ${stepErrorText(state.pcaError)}`);
  lines.push(`  report:   ${output.locationOf(reportKey(runId))}`);
  if (outcome.stateOutputs.has('Report') && !state.reportError) lines.push(`            ${output.locationOf(reportHtmlKey(runId))}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
