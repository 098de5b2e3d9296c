/**
 * How every function of the stack is built: its own role (no managed policies) allowed to write only its own
 * log group, JSON logs kept a month, no X-Ray (see tracing below); Node.js functions bundled by esbuild into one ESM file.
 */
import { join } from 'node:path';
import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type ILayerVersion, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { serviceName } from '../functions/shared/observability.ts';
import { repoRoot } from './assets.ts';
import { acknowledge } from './nag.ts';

/** Long enough to investigate a run, short enough not to pay for stale logs. */
export const logRetention = RetentionDays.ONE_MONTH;

export function functionBasics(scope: Construct, id: string) {
  const logGroup = new LogGroup(scope, `${id}Logs`, { retention: logRetention, removalPolicy: RemovalPolicy.DESTROY });
  const role = new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
  logGroup.grantWrite(role);
  // X-Ray off. The code is not instrumented (no X-Ray SDK or Powertools Tracer: it would go into every function
  // and the extract image), so active tracing would record only Lambda's own segments per invocation (init,
  // invocation, overhead), which each invocation's REPORT log line (Init Duration, Duration, Max Memory Used), the
  // execution history and the map run already show; it would only add traces to pay for.
  return { role, logGroup, loggingFormat: LoggingFormat.JSON, tracing: Tracing.DISABLED };
}

/** The environment every function shares: the one service name of the logger, INFO logs. */
export const commonEnvironment = { POWERTOOLS_SERVICE_NAME: serviceName, POWERTOOLS_LOG_LEVEL: 'INFO' };

export interface NodeFunctionOptions {
  description: string;
  memorySize: number;
  timeout: Duration;
  layers?: ILayerVersion[];
  /** Packages a layer provides: left out of the bundle, resolved from /opt/nodejs/node_modules. */
  externalModules?: string[];
  environment?: Record<string, string>;
}

/** A Node.js 22 function from `functions/<name>/handler.ts` (relative to the repository), exporting `handler`. */
export function nodeFunction(scope: Construct, id: string, entry: string, options: NodeFunctionOptions): NodejsFunction {
  const fn = new NodejsFunction(scope, id, {
    entry: join(repoRoot, entry),
    handler: 'handler',
    description: options.description,
    runtime: Runtime.NODEJS_22_X,
    // Pure JavaScript and WebAssembly: Graviton runs them for less per GB-second than x86_64.
    architecture: Architecture.ARM_64,
    memorySize: options.memorySize,
    timeout: options.timeout,
    layers: options.layers ?? [],
    projectRoot: repoRoot,
    depsLockFilePath: join(repoRoot, 'package-lock.json'),
    environment: { ...commonEnvironment, NODE_OPTIONS: '--enable-source-maps', ...options.environment },
    bundling: {
      format: OutputFormat.ESM,
      target: 'node22',
      sourceMap: true,
      minify: true,
      // The SDK version the tests ran, not whichever one the runtime happens to ship.
      bundleAwsSDK: true,
      externalModules: options.externalModules ?? [],
      // Bundled CommonJS dependencies call require(), which ESM output lacks unless given one.
      banner:
        "import { createRequire as topLevelCreateRequire } from 'node:module'; const require = topLevelCreateRequire(import.meta.url);",
    },
    ...functionBasics(scope, id),
  });
  acknowledge(
    fn,
    'AwsSolutions-L1',
    'Node.js 22 on purpose: the runtime the project targets and tests on (package.json engines, .ci/use-node22.sh).',
  );
  return fn;
}
