/**
 * The real extract handler, noting each import of its module (once per worker thread that loads it) as a line in
 * the file EXTRACT_IMPORTS names, so that a test can count the threads, and models, a series of runs started.
 * Test-only, and no hook in the production code: the local runner is given this module for the extract function,
 * as for flaky-extract-handler.ts.
 */
import { appendFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';

export { coldStart, handler } from '../../../functions/extract/handler.ts';

appendFileSync(process.env.EXTRACT_IMPORTS ?? '', `${threadId}\n`);
