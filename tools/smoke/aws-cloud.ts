/**
 * The smoke test's cloud: a stack of its own in the caller's AWS account and region (credentials as for
 * `cdk deploy`). Deploys with the CDK CLI, uploads with S3, runs over a prefix with `featurize start --wait` (the
 * CLI a user runs), follows the upload trigger's executions with Step Functions, and tears down with `cdk destroy`
 * and then the buckets the stack retains. It never touches a stack it did not make: the stack is tagged, and a
 * stack of that name without the tag is refused.
 *
 * Not run on the development machine (no AWS account there): its logic runs against fauxqs and the local runner
 * through the same SmokeCloud interface (test/smoke/), and this file is type-checked.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DeleteBucketCommand, GetBucketLoggingCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, ListExecutionsCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { awsClients, deployedDefaults, describeRun, stateMachineArnOutput } from '../../cli/deployed-runs.ts';
import { ConfigError } from '../../functions/shared/errors.ts';
import { S3Storage } from '../../functions/shared/storage/s3-storage.ts';
import type { RunOutcome, SmokeCloud, SmokeTarget } from './smoke-cloud.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const cliFile = join(repoRoot, 'cli', 'featurize.ts');

/** The tag that marks a stack as the smoke test's own (and so its to destroy). */
export const smokeTag = { key: 'featurize:smoke', value: 'true' };

export interface AwsSmokeOptions {
  stackName: string;
  log: (line: string) => void;
  /** How long to wait for the upload trigger's runs (the batching window is 60 s by default). */
  uploadRunTimeoutMs?: number;
  pollMs?: number;
}

interface Deployed {
  stateMachineArn: string;
  target: SmokeTarget;
}

export class AwsSmokeCloud implements SmokeCloud {
  private readonly options: Required<AwsSmokeOptions>;
  private readonly s3 = new S3Client({});
  private readonly cloudFormation: CloudFormationClient;
  private readonly sfn: SFNClient;
  private deployed: Deployed | undefined;

  constructor(options: AwsSmokeOptions) {
    this.options = { uploadRunTimeoutMs: 15 * 60_000, pollMs: 10_000, ...options };
    ({ sfn: this.sfn, cloudFormation: this.cloudFormation } = awsClients());
  }

  async deploy(): Promise<SmokeTarget> {
    const { stackName, log } = this.options;
    const existing = await this.describeStack();
    if (existing && existing.tags.get(smokeTag.key) !== smokeTag.value) {
      throw new ConfigError(`stack ${stackName} exists and was not deployed by the smoke test: choose another --stack`);
    }
    const outdir = await mkdtemp(join(tmpdir(), 'featurize-smoke-'));
    try {
      log(`deploying stack ${stackName} (npx cdk deploy; the first build of the extraction image takes minutes)`);
      const outputsFile = join(outdir, 'outputs.json');
      await this.cdk([
        'deploy',
        stackName,
        '--require-approval',
        'never',
        '--tags',
        `${smokeTag.key}=${smokeTag.value}`,
        '--outputs-file',
        outputsFile,
      ]);
      const outputs = (JSON.parse(await readFile(outputsFile, 'utf8')) as Record<string, Record<string, string>>)[stackName] ?? {};
      const stateMachineArn = outputs[stateMachineArnOutput];
      if (!stateMachineArn) throw new ConfigError(`stack ${stackName} has no ${stateMachineArnOutput} output`);
      const defaults = await deployedDefaults(this.sfn, stateMachineArn);
      const target: SmokeTarget = {
        input: { bucket: defaults.input.bucket, prefix: defaults.input.prefix },
        output: { bucket: defaults.output.bucket, prefix: defaults.output.prefix },
      };
      this.deployed = { stateMachineArn, target };
      return target;
    } finally {
      await rm(outdir, { recursive: true, force: true });
    }
  }

  async upload(key: string, body: Uint8Array): Promise<void> {
    await new S3Storage(this.target().input.bucket).write(key, body);
  }

  /** `featurize start --prefix <prefix> --wait`, exactly as a user runs it; its exit code and ARN, then the execution. */
  async runPrefix(prefix: string): Promise<RunOutcome> {
    const { stateMachineArn, target } = this.require();
    const runId = `smoke-${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}`;
    const stdout = await this.run(process.execPath, [
      cliFile,
      'start',
      '--bucket',
      target.input.bucket,
      '--prefix',
      prefix,
      '--run-id',
      runId,
      '--wait',
      '--state-machine-arn',
      stateMachineArn,
    ]).catch((error: Error & { stdout?: string }) => error.stdout ?? '');
    const executionArn = stdout.split('\n')[0]?.trim() ?? '';
    if (!executionArn.includes(':execution:')) return { runId, status: 'NOT_STARTED', error: { error: 'featurize start', cause: stdout } };
    return this.outcome(executionArn);
  }

  /**
   * The upload trigger names its executions `upload-<time>-<hash>` and passes the manifest it wrote; the runs are
   * those started since `since` whose manifests hold the keys (the trigger's two pollers may split the uploads).
   */
  async awaitUploadRuns(keys: readonly string[], since: Date): Promise<RunOutcome[]> {
    const { stateMachineArn } = this.require();
    const deadline = Date.now() + this.options.uploadRunTimeoutMs;
    for (;;) {
      const executions = await this.uploadExecutions(stateMachineArn, since);
      const covered = new Set<string>();
      const mine: string[] = [];
      for (const arn of executions) {
        const manifestKeys = await this.manifestKeysOf(arn);
        if (!manifestKeys.some((key) => keys.includes(key))) continue;
        mine.push(arn);
        for (const key of manifestKeys) covered.add(key);
      }
      const outcomes = await Promise.all(mine.map((arn) => this.outcome(arn)));
      const missing = keys.filter((key) => !covered.has(key));
      if (missing.length === 0 && outcomes.every((outcome) => outcome.status !== 'RUNNING')) return outcomes;
      if (Date.now() > deadline) {
        return [
          ...outcomes,
          { runId: '(upload trigger)', status: 'TIMED_OUT', error: { error: 'no run for', cause: missing.slice(0, 5).join(', ') } },
        ];
      }
      this.options.log(`  ${mine.length} upload run(s), ${keys.length - missing.length}/${keys.length} keys so far`);
      await new Promise((resolve) => setTimeout(resolve, this.options.pollMs));
    }
  }

  output(): S3Storage {
    const { output } = this.target();
    return new S3Storage(output.bucket, output.prefix);
  }

  /**
   * `cdk destroy`, then the buckets the stack retains (its data bucket and the access-log bucket), emptied and
   * deleted. The ECR image stays in the CDK bootstrap repository, as after any `cdk destroy`.
   */
  async teardown(): Promise<void> {
    const { stackName, log } = this.options;
    // From the stack itself: a deploy that failed half-way has left no `deployed` record, but may have a bucket.
    const stack = await this.describeStack();
    if (!stack || stack.tags.get(smokeTag.key) !== smokeTag.value) return;
    const bucket = stack.outputs.get('BucketName');
    const logs = bucket ? (await this.s3.send(new GetBucketLoggingCommand({ Bucket: bucket }))).LoggingEnabled?.TargetBucket : undefined;
    log(`destroying stack ${stackName}`);
    await this.cdk(['destroy', stackName, '--force']);
    for (const name of [bucket, logs]) if (name) await this.deleteBucket(name);
  }

  private target(): SmokeTarget {
    return this.require().target;
  }

  private require(): Deployed {
    if (!this.deployed) throw new Error('deploy() first');
    return this.deployed;
  }

  /** The stack's tags and outputs, or undefined when there is no such stack. */
  private async describeStack(): Promise<{ tags: Map<string, string>; outputs: Map<string, string> } | undefined> {
    try {
      const { Stacks } = await this.cloudFormation.send(new DescribeStacksCommand({ StackName: this.options.stackName }));
      const stack = Stacks?.[0];
      return {
        tags: new Map((stack?.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? ''])),
        outputs: new Map((stack?.Outputs ?? []).map((output) => [output.OutputKey ?? '', output.OutputValue ?? ''])),
      };
    } catch (error) {
      if ((error as { name?: string }).name === 'ValidationError') return undefined;
      throw error;
    }
  }

  private async uploadExecutions(stateMachineArn: string, since: Date): Promise<string[]> {
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.sfn.send(new ListExecutionsCommand({ stateMachineArn, ...(nextToken ? { nextToken } : {}) }));
      for (const execution of page.executions ?? []) {
        if (execution.name?.startsWith('upload-') && execution.startDate && execution.startDate >= since && execution.executionArn) {
          arns.push(execution.executionArn);
        }
      }
      // Newest first: a page that reaches back before `since` is the last one needed.
      const oldest = page.executions?.at(-1)?.startDate;
      nextToken = oldest && oldest < since ? undefined : page.nextToken;
    } while (nextToken);
    return arns;
  }

  private async manifestKeysOf(executionArn: string): Promise<string[]> {
    const { input } = await this.sfn.send(new DescribeExecutionCommand({ executionArn }));
    const manifest = (JSON.parse(input ?? '{}') as { manifest?: { bucket: string; key: string } }).manifest;
    if (!manifest) return [];
    const items = JSON.parse(new TextDecoder().decode(await new S3Storage(manifest.bucket).read(manifest.key))) as { Key: string }[];
    return items.map((item) => item.Key);
  }

  private async outcome(executionArn: string): Promise<RunOutcome> {
    const run = await describeRun(this.sfn, executionArn, this.target());
    return { runId: run.runId, status: run.status, ...(run.error ? { error: run.error } : {}) };
  }

  private async deleteBucket(name: string): Promise<void> {
    const storage = new S3Storage(name);
    // Access logs keep arriving for a while: empty and retry until the bucket stays empty long enough to go.
    for (let attempt = 1; ; attempt++) {
      const keys: string[] = [];
      for await (const object of storage.list()) keys.push(object.key);
      await storage.remove(keys);
      try {
        await this.s3.send(new DeleteBucketCommand({ Bucket: name }));
        this.options.log(`deleted bucket ${name}`);
        return;
      } catch (error) {
        if ((error as { name?: string }).name !== 'BucketNotEmpty' || attempt === 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 5_000 * attempt));
      }
    }
  }

  /** `npx cdk …` in the repository, for this stack name, its output on stderr (stdout stays the report's). */
  private async cdk(args: string[]): Promise<void> {
    // A new bucket of the stack's own: never FEATURIZE_BUCKET's existing one, which teardown would delete.
    const { FEATURIZE_BUCKET: _, ...env } = process.env;
    await this.run(
      'npx',
      ['cdk', ...args, '-c', `stackName=${this.options.stackName}`],
      { ...env, FEATURIZE_STACK_NAME: this.options.stackName },
      true,
    );
  }

  /** Runs a command in the repository; resolves with its stdout, rejects (with stdout) on a non-zero exit. */
  private run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env, stdoutToStderr = false): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'inherit'] });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdoutToStderr) process.stderr.write(chunk);
      });
      child.on('error', reject);
      child.on('close', (code) => {
        if (code === 0) resolve(stdout);
        else reject(Object.assign(new Error(`${command} ${args.slice(0, 2).join(' ')} exited with ${code}`), { stdout }));
      });
    });
  }
}
