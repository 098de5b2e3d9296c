/**
 * Closing the extract pool wherever its threads are in loading the model. Ending a thread inside ONNX Runtime's
 * session creation aborted the whole process ("terminate called after throwing an instance of 'Napi::Error'"),
 * so the pools are closed in a child process (test/support/close-pools.ts), which must exit normally. The points
 * are found from what the threads say, not from fixed delays: how long each phase takes depends on the machine
 * and its load (here, on a busy 2-core machine, a thread took 1-7 s to start and 1-6 s to load the model).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const closePools = fileURLToPath(new URL('../support/close-pools.ts', import.meta.url));

function closeAt(scenarios: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [closePools, ...scenarios], (error, stdout, stderr) =>
      resolve({ code: error ? (error.code as number | null) : 0, stdout, stderr }),
    );
  });
}

describe('closing the function pool', () => {
  it('exits normally whenever it closes: threads starting, importing, inside session creation, loaded, after a crash', async () => {
    const scenarios = ['at-once', 'importing+0', 'creating+100:2', 'loaded', 'crashed+100'];
    const result = await closeAt(scenarios);
    expect(result.stderr).not.toContain('terminate called');
    expect(result.code).toBe(0);
    expect(result.stdout.trimEnd().split('\n').sort()).toEqual(scenarios.map((scenario) => `closed ${scenario}`).sort());
  });
});
