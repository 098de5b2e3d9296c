/**
 * One local run as `featurize run` and `featurize watch` show it: the pipeline with a progress display, then the
 * summary. Loaded only once a command runs (it brings in the SDK, sharp and the engines).
 */
import { openStorage } from '../functions/shared/storage/open-storage.ts';
import type { StorageLocation } from '../functions/shared/storage/storage.ts';
import type { ExecutionOutcome } from '../statemachine/local/run-execution.ts';
import { runPipeline } from '../statemachine/local/run-pipeline.ts';
import { type PipelineOptions, pipelineSettings } from './pipeline-options.ts';
import { startProgress } from './progress.ts';
import { printSummary } from './summary.ts';

export interface LocalRun {
  runId: string;
  input: Required<StorageLocation>;
  output: Required<StorageLocation>;
  options: PipelineOptions;
  /** An incremental run's manifest (watch); a full run lists the input. */
  manifest?: { bucket: string; key: string };
  /** When the run's clock started (performance.now()), for the summary's rate. */
  started: number;
}

export async function runWithProgress({ runId, input, output, options, manifest, started }: LocalRun): Promise<ExecutionOutcome> {
  const progress = startProgress();
  const outcome = await runPipeline({
    runId,
    input,
    output,
    ...pipelineSettings(options),
    ...(manifest ? { manifest } : {}),
    observer: progress,
  }).finally(() => progress.stop());
  printSummary({ runId, outcome, output: openStorage(output), workers: options.workers, seconds: (performance.now() - started) / 1000 });
  return outcome;
}
