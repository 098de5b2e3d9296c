/**
 * Run in a child process by test/statemachine/function-pool-close.test.ts, since an abort kills the whole process:
 * opens one worker pool per scenario given as an argument, all at once, each running the model-loading handler
 * (the real engine loading the real model), and closes each at its scenario's point of the loading:
 *   at-once          right after the pool is created, its threads still starting;
 *   importing+<ms>   that long after a thread started importing its handler's modules;
 *   loading+<ms>     that long after a thread's engine started loading the model (reading, checking it);
 *   creating+<ms>    that long after a thread's engine called ONNX Runtime's session creation (about a second);
 *   loaded           once every thread has loaded its model;
 *   crashed+<ms>     once loaded, a worker is killed by its event; then that long after its replacement called
 *                    the session creation.
 * `:<n>` after a scenario gives the pool n threads (default 1). Prints `closed <scenario>` as each pool closes.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { BroadcastChannel } from 'node:worker_threads';
import { createFunctionPool } from '../../statemachine/local/function-pool.ts';
import type { LoadingEvent, LoadingProgress } from './functions/model-loading-handler.ts';

const handlerModule = new URL('./functions/model-loading-handler.ts', import.meta.url);

async function closeAt(scenario: string): Promise<void> {
  const [point = '', threads = '1'] = scenario.split(':');
  const [phase, ms = '0'] = point.split('+');
  const channelName = `model-loading-${randomUUID()}`;
  const progress = new BroadcastChannel(channelName);
  const heard: LoadingProgress[] = [];
  let wake = () => {};
  progress.onmessage = (message) => {
    heard.push((message as { data: LoadingProgress }).data);
    wake();
  };
  const hear = async (what: (heard: LoadingProgress[]) => boolean) => {
    while (!what(heard)) await new Promise<void>((resolve) => (wake = resolve));
  };
  const threadsIn = (wanted: LoadingProgress['phase']) => heard.filter((p) => p.phase === wanted).map((p) => p.threadId);

  const pool = createFunctionPool({
    preload: [handlerModule],
    threads: Number(threads),
    env: { ...process.env, LOADING_CHANNEL: channelName },
  });
  switch (phase) {
    case 'at-once':
      break;
    case 'importing':
    case 'loading':
    case 'creating':
      await hear(() => threadsIn(phase).length > 0);
      break;
    case 'loaded':
      await hear(() => threadsIn('loaded').length === Number(threads));
      break;
    case 'crashed': {
      await hear(() => threadsIn('loaded').length === Number(threads));
      const before = new Set(threadsIn('creating'));
      await pool.invoke({ functionName: 'model-loading', handlerModule }, { action: 'exit' } satisfies LoadingEvent).catch(() => undefined);
      await hear(() => threadsIn('creating').some((id) => !before.has(id)));
      break;
    }
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
  await sleep(Number(ms));
  await pool.close();
  progress.close();
  process.stdout.write(`closed ${scenario}\n`);
}

await Promise.all(process.argv.slice(2).map(closeAt));
