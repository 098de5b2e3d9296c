import { afterAll, describe, expect, it } from 'vitest';
import { createFunctionPool, type PooledFunction } from '../../statemachine/local/function-pool.ts';

const scripted: PooledFunction = {
  functionName: 'scripted',
  handlerModule: new URL('../support/functions/scripted-handler.ts', import.meta.url),
};
// The same module under another URL: another module instance, as another function's handler would be.
const other: PooledFunction = { functionName: 'other', handlerModule: new URL(`${scripted.handlerModule.href}?other`) };

const pool = createFunctionPool({
  preload: [scripted.handlerModule],
  threads: 2,
  env: { ...process.env, FEATURIZE_TEST_SETTING: 'from the pool' },
});
afterAll(() => pool.close());

type Answer = { threadId: number; loadId: string; loadedAt: number; setting: string | null };

const answers = async (fn: PooledFunction, count: number) =>
  (await Promise.all(Array.from({ length: count }, () => pool.invoke(fn, { action: 'answer' })))) as Answer[];

/** Each thread's distinct module instances (load ids) among the answers. */
function loadsByThread(answered: readonly Answer[]): Map<number, Set<string>> {
  const loads = new Map<number, Set<string>>();
  for (const { threadId, loadId } of answered) loads.set(threadId, (loads.get(threadId) ?? new Set()).add(loadId));
  return loads;
}

describe('function pool', () => {
  it('runs events on its worker threads, each having imported the handler once, with the environment it was given', async () => {
    const answered = await answers(scripted, 8);
    const loads = loadsByThread(answered);
    expect(loads.size).toBeLessThanOrEqual(2);
    for (const threadLoads of loads.values()) expect(threadLoads.size).toBe(1);
    expect(answered[0]!.threadId).not.toBe(0);
    expect(answered.every((answer) => answer.setting === 'from the pool')).toBe(true);
  });

  it('runs another function on the same threads, its module imported once per thread at its first event, not at start', async () => {
    const before = Date.now();
    const answered = await answers(other, 8);
    const loads = loadsByThread(answered);
    for (const threadLoads of loads.values()) expect(threadLoads.size).toBe(1);
    const preloaded = new Set((await answers(scripted, 8)).map((answer) => answer.loadId));
    expect(answered.some((answer) => preloaded.has(answer.loadId))).toBe(false);
    expect(answered.every((answer) => answer.loadedAt >= before)).toBe(true);
  });

  it("rejects with the handler's own error name, which structured clone alone would lose", async () => {
    const error = await pool.invoke(scripted, { action: 'throw' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'StorageUnavailableError', message: 'the store is down' });
    expect((error as Error).stack).toContain('scripted-handler.ts');
  });

  it('fails the event of a worker that dies with Runtime.ExitError, and replaces the worker', async () => {
    const threadsBefore = new Set((await answers(scripted, 4)).map((answer) => answer.threadId));

    const error = await pool.invoke(scripted, { action: 'exit' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'Runtime.ExitError' });
    expect((error as Error).message).toContain('scripted: the worker thread died');
    expect((error as Error).message).toContain('exited with code: 7');

    const after = await answers(scripted, 4);
    const threadsAfter = new Set(after.map((answer) => answer.threadId));
    expect(threadsAfter.size).toBe(2);
    expect([...threadsAfter].filter((id) => !threadsBefore.has(id))).toHaveLength(1);
    expect(after.every((answer) => answer.setting === 'from the pool')).toBe(true);
  });

  it('lets an event under way finish when it closes, instead of ending its thread', async () => {
    const closing = createFunctionPool({
      preload: [scripted.handlerModule],
      threads: 1,
      env: { ...process.env, FEATURIZE_TEST_SETTING: 'answered' },
    });
    const answer = closing.invoke(scripted, { action: 'answer' });
    await closing.close();
    await expect(answer).resolves.toMatchObject({ setting: 'answered' });
  });
});
