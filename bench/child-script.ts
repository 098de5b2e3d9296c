/**
 * A script that a bench script runs in a process of its own, so that its peak memory and CPU time are its own.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * Runs `node <args>` and resolves with its stdout. Its failure rejects with the child's own error line (the first
 * `SomeError: ...` it printed), not execFile's dump of the command line and the whole of stderr.
 */
export async function runScript(args: string[], options: { env: NodeJS.ProcessEnv; maxBuffer?: number }): Promise<string> {
  try {
    return (await execFileAsync(process.execPath, args, { ...options, encoding: 'utf8' })).stdout;
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '');
    const line = stderr.split('\n').find((candidate) => /^\w*Error( \[\w+\])?: /.test(candidate));
    throw new Error(line ?? (error as Error).message.split('\n')[0]);
  }
}
