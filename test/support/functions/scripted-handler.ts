/** A function whose behaviour each event scripts, for the worker pool's tests: answer, throw, or kill its worker. */
import { randomUUID } from 'node:crypto';
import { threadId } from 'node:worker_threads';
import { StorageUnavailableError } from '../../../functions/shared/errors.ts';

// Module scope runs once per worker, as a Lambda's init runs once per sandbox.
const loadId = randomUUID();

export interface ScriptedEvent {
  action: 'answer' | 'throw' | 'exit';
}

export async function handler(event: ScriptedEvent): Promise<unknown> {
  switch (event.action) {
    case 'answer':
      return { threadId, loadId, setting: process.env.FEATURIZE_TEST_SETTING ?? null };
    case 'throw':
      throw new StorageUnavailableError('the store is down');
    case 'exit':
      process.exit(7);
  }
}
