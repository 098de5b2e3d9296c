/**
 * One local run as `featurize run` and `featurize watch` show it: the pipeline with a progress display, then the
 * summary. Loaded only once a command runs (it brings in the SDK, sharp and the engines).
 */
import { indexManifestKey } from '../functions/shared/run-layout.ts';
import { openStorage } from '../functions/shared/storage/open-storage.ts';
import { readIfPresent, type Storage, type StorageLocation } from '../functions/shared/storage/storage.ts';
import type { FunctionPool } from '../statemachine/local/function-pool.ts';
import type { ExecutionOutcome } from '../statemachine/local/run-execution.ts';
import { runPipeline } from '../statemachine/local/run-pipeline.ts';
import { type PipelineOptions, pipelineSettings } from './pipeline-options.ts';
import { type Progress, startProgress } from './progress.ts';
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
  /** Ctrl-C (SIGINT) or SIGTERM ends the process at once (`run`); without, they are the caller's (`watch`). */
  interruptible?: boolean;
  /** Worker threads kept across runs (`watch`, from createPipelinePool); without, the run starts its own. */
  pool?: FunctionPool;
}

export async function runWithProgress({
  runId,
  input,
  output,
  options,
  manifest,
  started,
  interruptible,
  pool,
}: LocalRun): Promise<ExecutionOutcome> {
  const storage = openStorage(output);
  const index = options.index ?? (await hasIndex(storage));
  const progress = startProgress();
  const stopListening = interruptible ? endOnSignal(runId, progress) : () => {};
  const outcome = await runPipeline({
    runId,
    input,
    output,
    ...pipelineSettings(options),
    index,
    ...(manifest ? { manifest } : {}),
    ...(pool ? { pool } : {}),
    observer: progress,
  }).finally(() => {
    stopListening();
    progress.stop();
  });
  printSummary({ runId, outcome, output: storage, workers: options.workers, seconds: (performance.now() - started) / 1000 });
  return outcome;
}

/**
 * Without --index or --no-index, a run updates the index (the state machine's UpdateIndex step, after publishing)
 * when the output already has one (`featurize index`, or an earlier run with --index, made it): an index, once
 * made, follows the dataset; an output without one gets none unasked.
 */
async function hasIndex(storage: Storage): Promise<boolean> {
  return (await readIfPresent(storage, indexManifestKey)) !== undefined;
}

/**
 * On the signal: the terminal set back (the progress bar hides the cursor), one line, and the process dies of the
 * signal, as an interrupted program should: the shell sees exit status 130 (SIGINT) or 143 (SIGTERM), and a
 * script running featurize stops too. Dying of it also tears nothing down, whereas exiting ends the worker
 * threads the way closing the pool used to, and one inside ONNX Runtime's session creation aborts the process.
 * Nothing is lost: an unpublished run leaves the dataset as it was (write, audit, publish).
 */
function endOnSignal(runId: string, progress: Progress): () => void {
  const end = (signal: NodeJS.Signals) => {
    stopListening();
    progress.stop();
    process.stderr.write(`featurize: run ${runId} interrupted (${signal})\n`);
    process.kill(process.pid, signal);
  };
  const stopListening = () => {
    process.off('SIGINT', end).off('SIGTERM', end);
  };
  process.on('SIGINT', end).on('SIGTERM', end);
  return stopListening;
}
