/** The real command line, as a user runs it: `node cli/featurize.ts …` in a child process. */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cliFile = fileURLToPath(new URL('../../cli/featurize.ts', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `env` is added to the test's own environment; a variable set to undefined is left out. */
export function featurize(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runNodeScript(cliFile, args, env);
}

/** `node <script> <args>` in a child process, as `featurize` runs the CLI: its exit code and what it printed. */
export function runNodeScript(script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [script, ...args],
      { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The command line running, for a test that acts while it runs (adds files, presses Ctrl-C). */
export interface RunningCli {
  /** Resolves once stdout has shown a match. */
  saw(text: RegExp | string): Promise<void>;
  /** Sends a signal, as Ctrl-C (SIGINT) at a terminal does. */
  kill(signal: NodeJS.Signals): void;
  /** How it ended: its exit code, or the signal it died of; everything it printed. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

export function startFeaturize(args: readonly string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  const child = spawn(process.execPath, [cliFile, ...args], { env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  const waiters: (() => void)[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const wake of waiters.splice(0)) wake();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => {
      resolve({ code, signal, stdout, stderr });
      for (const wake of waiters.splice(0)) wake();
    }),
  );
  return {
    async saw(text) {
      const seen = () => (typeof text === 'string' ? stdout.includes(text) : text.test(stdout));
      while (!seen()) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited before printing ${text}:\n${stdout}`);
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
    kill: (signal) => child.kill(signal),
    exited,
  };
}
