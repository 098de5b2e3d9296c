/**
 * The CheckRun Lambda: the first Task of every run (see check-run.ts).
 *
 * Event (the CheckRun state's Parameters): { run: <the merged settings>, deployedInput: { bucket, prefix },
 *   startedAt }. Returns CheckedRun, which becomes the state of the execution; a refusal is a RunRefusedError,
 *   which the definition catches to write the run's report and end in its RunRefused Fail state.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { type CheckedRun, type CheckRunEvent, checkRunEventSchema } from '../../statemachine/contracts.ts';
import { parseEvent } from '../shared/middleware/parse-event.ts';
import { logger } from '../shared/observability.ts';
import { checkRun } from './check-run.ts';

export async function check(event: CheckRunEvent): Promise<CheckedRun> {
  const run = await checkRun(event);
  logger.info('run checked', { runId: run.runId, scope: run.scope, input: run.input, output: run.output, manifest: run.manifest });
  return run;
}

export const handler = middy(check).use(injectLambdaContext(logger)).use(parseEvent(checkRunEventSchema));
