import { afterAll, describe, expect, it } from 'vitest';
import { createFunctionPool } from '../../statemachine/local/function-pool.ts';

const pool = createFunctionPool({
  functionName: 'scripted',
  handlerModule: new URL('../support/functions/scripted-handler.ts', import.meta.url),
  threads: 2,
  env: { ...process.env, FEATURIZE_TEST_SETTING: 'from the pool' },
});
afterAll(() => pool.close());

type Answer = { threadId: number; loadId: string; setting: string | null };

describe('function pool', () => {
  it('runs events on its worker threads, each having imported the handler once, with the environment it was given', async () => {
    const answers = (await Promise.all(Array.from({ length: 8 }, () => pool.invoke({ action: 'answer' })))) as Answer[];
    const loadsByThread = new Map<number, Set<string>>();
    for (const { threadId, loadId } of answers) loadsByThread.set(threadId, (loadsByThread.get(threadId) ?? new Set()).add(loadId));
    expect(loadsByThread.size).toBeLessThanOrEqual(2);
    for (const loads of loadsByThread.values()) expect(loads.size).toBe(1);
    expect(answers[0]!.threadId).not.toBe(0);
    expect(answers.every((answer) => answer.setting === 'from the pool')).toBe(true);
  });

  it("rejects with the handler's own error name, which structured clone alone would lose", async () => {
    const error = await pool.invoke({ action: 'throw' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'StorageUnavailableError', message: 'the store is down' });
    expect((error as Error).stack).toContain('scripted-handler.ts');
  });

  it('fails the event of a worker that dies with Runtime.ExitError, and replaces the worker', async () => {
    const answerAll = async () => (await Promise.all(Array.from({ length: 4 }, () => pool.invoke({ action: 'answer' })))) as Answer[];
    const threadsBefore = new Set((await answerAll()).map((answer) => answer.threadId));

    const error = await pool.invoke({ action: 'exit' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'Runtime.ExitError' });
    expect((error as Error).message).toContain('exited with code: 7');

    const after = await answerAll();
    const threadsAfter = new Set(after.map((answer) => answer.threadId));
    expect(threadsAfter.size).toBe(2);
    expect([...threadsAfter].filter((id) => !threadsBefore.has(id))).toHaveLength(1);
    expect(after.every((answer) => answer.setting === 'from the pool')).toBe(true);
  });

  it('lets an event under way finish when it closes, instead of ending its thread', async () => {
    const closing = createFunctionPool({
      functionName: 'scripted',
      handlerModule: new URL('../support/functions/scripted-handler.ts', import.meta.url),
      threads: 1,
      env: { ...process.env, FEATURIZE_TEST_SETTING: 'answered' },
    });
    const answer = closing.invoke({ action: 'answer' });
    await closing.close();
    await expect(answer).resolves.toMatchObject({ setting: 'answered' });
  });
});
