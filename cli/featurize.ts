#!/usr/bin/env node
/**
 * The `featurize` command line. Each command lives in cli/commands/<name>.ts and registers itself here.
 * A bad argument or a failed precondition prints one line and exits non-zero; a stack trace only with --verbose.
 */
import { Command, CommanderError } from 'commander';
import { FeaturizeError } from '../functions/shared/errors.ts';
import { addEvaluateCommand } from './commands/evaluate.ts';
import { addIndexCommand } from './commands/index-dataset.ts';
import { addInspectCommand } from './commands/inspect.ts';
import { addRepairCommand } from './commands/repair.ts';
import { addRunCommand } from './commands/run.ts';
import { addSimilarCommand } from './commands/similar.ts';
import { addStartCommand } from './commands/start.ts';
import { addStatusCommand } from './commands/status.ts';
import { addWatchCommand } from './commands/watch.ts';

const program = new Command('featurize')
  .description('Images in a folder or an S3 prefix to a Parquet dataset of MobileNetV2 feature vectors')
  .option('--verbose', 'log every step as JSON lines, and show stack traces')
  .showSuggestionAfterError()
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'featurize: ')) });

addRunCommand(program);
addInspectCommand(program);
addWatchCommand(program);
addStartCommand(program);
addStatusCommand(program);
addRepairCommand(program);
addEvaluateCommand(program);
addSimilarCommand(program);
addIndexCommand(program);

program.hook('preAction', (command) => {
  // The person at the terminal sees summaries and one-line errors; the handlers' JSON logs (a failed
  // validation's WARN included) only when asked for, with --verbose or the environment's POWERTOOLS_LOG_LEVEL.
  if (command.optsWithGlobals().verbose) process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
  // An empty value counts as unset, as Powertools itself reads it.
  else if (!process.env.POWERTOOLS_LOG_LEVEL) process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
});

try {
  await program.parseAsync();
} catch (error) {
  process.exitCode = exitCodeFor(error, program.opts().verbose === true);
}

function exitCodeFor(error: unknown, verbose: boolean): number {
  // Commander has printed its own one-line message (unknown option, missing argument) or the help text.
  if (error instanceof CommanderError) return error.exitCode;
  if (error instanceof FeaturizeError && !verbose) {
    process.stderr.write(`featurize: ${error.message}\n`);
  } else {
    process.stderr.write(
      `featurize: ${verbose ? ((error as Error).stack ?? String(error)) : String((error as Error)?.message ?? error)}\n`,
    );
  }
  return 1;
}
