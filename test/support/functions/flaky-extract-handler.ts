/**
 * The real extract handler, meeting once each of the two accidents a batch is retried for:
 *  - the batch holding FLAKY_WRITE_KEY has its shard written, then fails with StorageUnavailableError, as when
 *    the store took the write but its answer was lost: the retry writes the same shard again;
 *  - the batch holding FLAKY_CRASH_KEY kills its worker thread before writing anything (Runtime.ExitError);
 * and, every time, the batch holding FLAKY_BROKEN_KEY fails with StorageUnavailableError (a store that never
 * comes back), which exhausts its retries.
 * "Once" holds across worker threads through marker files created exclusively in FLAKY_MARKERS.
 * Test-only, and no hook in the production code: the local runner is given this module for the extract
 * function instead of functions/extract/handler.ts, as a Lambda can be given another handler.
 */
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { handler as extract } from '../../../functions/extract/handler.ts';
import { StorageUnavailableError } from '../../../functions/shared/errors.ts';
import type { BatchEvent } from '../../../statemachine/contracts.ts';

// The real handler's model loading, for the worker pool to wait for before it ends a thread.
export { coldStart } from '../../../functions/extract/handler.ts';

const { FLAKY_WRITE_KEY, FLAKY_CRASH_KEY, FLAKY_BROKEN_KEY, FLAKY_MARKERS = '' } = process.env;

export async function handler(event: BatchEvent, context: Context): Promise<unknown> {
  const holds = (key: string | undefined) => event.Items.some((item) => item.Key === key);
  if (holds(FLAKY_CRASH_KEY) && firstTime('crash')) process.exit(70);
  if (holds(FLAKY_BROKEN_KEY)) throw new StorageUnavailableError('simulated: the store does not answer');
  const result = await extract(event, context);
  if (holds(FLAKY_WRITE_KEY) && firstTime('write')) {
    throw new StorageUnavailableError('simulated: the shard was stored but the answer of the store was lost');
  }
  return result;
}

function firstTime(accident: string): boolean {
  try {
    closeSync(openSync(join(FLAKY_MARKERS, accident), 'wx'));
    return true;
  } catch {
    return false;
  }
}
