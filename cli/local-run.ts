/**
 * One local run as `featurize run` and `featurize watch` show it: the pipeline with a progress display, then the
 * summary. Loaded only once a command runs (it brings in the SDK, sharp and the engines).
 */
import { indexManifestKey, indexPrefix } from '../functions/shared/run-layout.ts';
import { openStorage } from '../functions/shared/storage/open-storage.ts';
import { readIfPresent, type Storage, type StorageLocation } from '../functions/shared/storage/storage.ts';
import type { ExecutionOutcome } from '../statemachine/local/run-execution.ts';
import { runPipeline } from '../statemachine/local/run-pipeline.ts';
import { describeIndexUpdate } from './index-summary.ts';
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
}

export async function runWithProgress({
  runId,
  input,
  output,
  options,
  manifest,
  started,
  interruptible,
}: LocalRun): Promise<ExecutionOutcome> {
  const progress = startProgress();
  const stopListening = interruptible ? endOnSignal(runId, progress) : () => {};
  const outcome = await runPipeline({
    runId,
    input,
    output,
    ...pipelineSettings(options),
    ...(manifest ? { manifest } : {}),
    observer: progress,
  }).finally(() => {
    stopListening();
    progress.stop();
  });
  const storage = openStorage(output);
  printSummary({ runId, outcome, output: storage, workers: options.workers, seconds: (performance.now() - started) / 1000 });
  await followWithIndex(storage, runId);
  return outcome;
}

/**
 * An output that has a nearest-neighbour index (`featurize index` made one) keeps it in step with features/ after
 * every run, whatever its outcome (an unpublished run changed nothing: the index is then found current). A failed
 * update is said in one line and leaves the run's outcome alone: the index stays as it was, and `similar` searches
 * exactly until it is current again.
 */
async function followWithIndex(storage: Storage, runId: string): Promise<void> {
  if (!(await readIfPresent(storage, indexManifestKey))) return;
  try {
    const { updateIndexUnderLease } = await import('../functions/shared/vectors/index-under-lease.ts');
    const update = await updateIndexUnderLease(storage, runId);
    process.stdout.write(`  ${describeIndexUpdate(update, storage.locationOf(indexPrefix))}\n`);
  } catch (error) {
    process.stderr.write(`featurize: index ${storage.locationOf(indexPrefix)} not updated: ${(error as Error).message}\n`);
  }
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
