/**
 * A step's own handler, wrapped for bench/profile-pipeline.ts: the local runner imports this module in place of
 * `functions/<folder>/handler.ts` (`?folder=<folder>&channel=<name>` in its URL). It tells the profiler which OS
 * thread it is (so that /proc's per-thread CPU can be told apart from the runtime's other threads) and, after each
 * event, its thread's CPU time and how long its event loop waited meanwhile (for decoded images, reads, writes).
 */
import { readlinkSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { BroadcastChannel, threadId } from 'node:worker_threads';
import type { LambdaHandler } from '../statemachine/local/lambda-context.ts';

export interface HandlerReport {
  folder: string;
  /** The OS thread id (/proc/<pid>/task/<tid>) and Node's thread id (in the name of its .cpuprofile). */
  tid: number;
  threadId: number;
  /** The thread's CPU time since it started, model loading included. */
  cpuMs: number;
  /**
   * The event just run: when it started and ended (performance.timeOrigin + ms), and how long the event loop waited
   * in it. None in the report a thread sends once its module is loaded, whether or not it gets an event.
   */
  event?: { startMs: number; endMs: number; idleMs: number };
}

const query = new URL(import.meta.url).searchParams;
const folder = query.get('folder') ?? '';
const module = (await import(`../functions/${folder}/handler.ts`)) as { handler: LambdaHandler; coldStart?: Promise<unknown> };
export const coldStart = module.coldStart;

const channel = new BroadcastChannel(query.get('channel') ?? '');
channel.unref();
const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
const threadCpuMs = () => {
  const cpu = process.threadCpuUsage();
  return (cpu.user + cpu.system) / 1000;
};
channel.postMessage({ folder, tid, threadId, cpuMs: threadCpuMs() } satisfies HandlerReport);

export const handler: LambdaHandler = async (event, context) => {
  const startMs = performance.timeOrigin + performance.now();
  const loop = performance.eventLoopUtilization();
  try {
    return await module.handler(event, context);
  } finally {
    const report: HandlerReport = {
      folder,
      tid,
      threadId,
      cpuMs: threadCpuMs(),
      event: { startMs, endMs: performance.timeOrigin + performance.now(), idleMs: performance.eventLoopUtilization(loop).idle },
    };
    channel.postMessage(report);
  }
};
