/**
 * A function whose behaviour each event scripts, for the worker pool's tests: answer, throw, or kill its worker.
 * Wrapped by middy like the real handlers, which arms its timeout from the context the runner gives.
 */
import { randomUUID } from 'node:crypto';
import { threadId } from 'node:worker_threads';
import middy from '@middy/core';
import { StorageUnavailableError } from '../../../functions/shared/errors.ts';

// Module scope runs once per worker, as a Lambda's init runs once per sandbox.
const loadId = randomUUID();
const loadedAt = Date.now();

export interface ScriptedEvent {
  action: 'answer' | 'throw' | 'exit';
}

async function respond(event: ScriptedEvent): Promise<unknown> {
  switch (event.action) {
    case 'answer':
      // Takes a moment, as a batch does: long enough for a mis-armed middy timeout to fire first.
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { threadId, loadId, loadedAt, setting: process.env.FEATURIZE_TEST_SETTING ?? null };
    case 'throw':
      throw new StorageUnavailableError('the store is down');
    case 'exit':
      process.exit(7);
  }
}

export const handler = middy(respond);
