/**
 * `featurize watch <dir> --out <uri>`: images added to a local folder are processed as they arrive, as uploads
 * to the deployed bucket are: gathered for a batching window, written to a manifest, run through the state
 * machine's manifest path on this machine (cli/folder-watch.ts). Runs until interrupted (Ctrl-C).
 */
import { isAbsolute } from 'node:path';
import type { Command } from 'commander';
import { ConfigError } from '../../functions/shared/errors.ts';
import { positiveSeconds } from '../options.ts';
import {
  addPipelineOptions,
  applySettings,
  checkOutputOutsideInput,
  type PipelineOptions,
  pipelineSettings,
  prepareModel,
  requireFolder,
} from '../pipeline-options.ts';

interface WatchOptions extends PipelineOptions {
  window: number;
}

export function addWatchCommand(program: Command): void {
  const command = program
    .command('watch')
    .description('process images added to <dir> as they arrive: each batch of new files is one incremental run')
    .argument('<dir>', 'the folder of <label>/<image> files to watch; the files already there are left as they are')
    .option('--window <seconds>', 'how long new files gather into one batch', positiveSeconds, 10);
  addPipelineOptions(command).action(watchFolderCommand);
}

async function watchFolderCommand(dir: string, options: WatchOptions): Promise<void> {
  applySettings(options);
  const [{ parseStorageUri }, { runWithProgress }, { watchFolder }, { createPipelinePool }] = await Promise.all([
    import('../../functions/shared/storage/open-storage.ts'),
    import('../local-run.ts'),
    import('../folder-watch.ts'),
    import('../../statemachine/local/run-pipeline.ts'),
  ]);

  const input = parseStorageUri(dir);
  if (!isAbsolute(input.bucket)) {
    throw new ConfigError('watch takes a local folder: uploads to the deployed bucket start runs by themselves');
  }
  await requireFolder(input.bucket, 'no folder at');
  const output = parseStorageUri(options.out);
  checkOutputOutsideInput(input, output);
  await prepareModel();
  // One set of worker threads for every run, started now: the first run finds its models loading or loaded, and
  // each later one finds them loaded, as a warm Lambda sandbox does. Closed however watch ends: ending the
  // process with a thread inside ONNX Runtime's session creation would abort it (function-pool.ts).
  const pool = createPipelinePool(pipelineSettings(options));
  try {
    let running: string | undefined;
    const watcher = watchFolder({
      dir: input.bucket,
      output,
      windowMs: options.window * 1000,
      run: async ({ runId, manifest, keys }) => {
        const started = performance.now();
        process.stdout.write(`featurize: ${keys.length} new file(s), run ${runId}\n`);
        running = runId;
        const outcome = await runWithProgress({ runId, input, output, options, manifest, started, pool }).finally(() => {
          running = undefined;
        });
        return outcome.status === 'SUCCEEDED';
      },
      onGiveUp: (keys) =>
        process.stderr.write(`featurize: ${keys.length} file(s) failed 3 runs, left until they change: ${keys.slice(0, 3).join(', ')}\n`),
      // A batch that fails is reported; the next files still get their run.
      onError: (error) => process.stderr.write(`featurize: ${(error as Error)?.message ?? String(error)}\n`),
    });
    const existing = await watcher.ready;
    process.stdout.write(`featurize: watching ${input.bucket} (${existing} file(s) already there); Ctrl-C stops\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop).off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop).on('SIGTERM', stop);
    });
    // A run under way finishes and prints its summary, then the pool closes (below) once its workers have loaded
    // their models; exit code 0, as for any stop of watch: each run's outcome is in its summary. A second signal
    // finds no listener, and the process dies of it at once, tearing nothing down.
    if (running) process.stderr.write(`featurize: stopping once run ${running} has ended; Ctrl-C again quits now\n`);
    await watcher.stop();
  } finally {
    await pool.close();
  }
}
