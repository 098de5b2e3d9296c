/** The real command line, as a user runs it: `node cli/featurize.ts …` in a child process. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cliFile = fileURLToPath(new URL('../../cli/featurize.ts', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `env` is added to the test's own environment; a variable set to undefined is left out. */
export function featurize(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliFile, ...args],
      { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}
