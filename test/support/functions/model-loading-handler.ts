/**
 * A function whose cold start loads the real model with the real engine, as the extract handler's does, and says
 * where each of its threads is in that (on the BroadcastChannel named by LOADING_CHANNEL), so that a test can
 * close the worker pool at chosen points of the loading. Its events answer once the model is loaded, or kill
 * their worker.
 */
import { BroadcastChannel, threadId } from 'node:worker_threads';
import middy from '@middy/core';
import { InferenceSession } from 'onnxruntime-node';
import { extractionSettings } from '../../../functions/shared/config.ts';

/** `creating`: the onnx engine is calling ONNX Runtime's session creation, a native call of about a second. */
export type LoadingPhase = 'importing' | 'loading' | 'creating' | 'loaded';
export interface LoadingProgress {
  threadId: number;
  phase: LoadingPhase;
}

const channel = new BroadcastChannel(process.env.LOADING_CHANNEL ?? 'model-loading');
const say = (phase: LoadingPhase) => channel.postMessage({ threadId, phase } satisfies LoadingProgress);

say('importing');
// The engine's own call, only announced: one module instance per thread, so the engine calls this very function.
const createSession = InferenceSession.create.bind(InferenceSession);
Object.assign(InferenceSession, {
  create: (...args: Parameters<typeof createSession>) => {
    say('creating');
    return createSession(...args);
  },
});
const { featureEngine } = await import('../../../functions/shared/model/engine-factory.ts');
const settings = extractionSettings();
say('loading');
export const coldStart = featureEngine(settings.engine, settings.modelDir);
void Promise.allSettled([coldStart]).then(() => {
  say('loaded');
  channel.close();
});

export interface LoadingEvent {
  action: 'answer' | 'exit';
}

async function respond(event: LoadingEvent): Promise<unknown> {
  if (event.action === 'exit') process.exit(70);
  await coldStart;
  return { threadId };
}

export const handler = middy(respond);
