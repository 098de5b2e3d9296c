/**
 * The Lambda context a handler receives when the local runner invokes it: the fields the logger and metrics
 * middlewares read, a fresh request id per invocation, and no deadline (a local invocation is not cut off).
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { localFunctionArn } from './local-arns.ts';

/** A module's `handler` export, as the local runner calls it (middy handlers return a promise). */
export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

// "No deadline" as the longest a timer can wait (~24.8 days): middy arms a timer on the remaining time, and a
// longer delay would overflow Node's timers into an immediate timeout.
const noDeadlineMs = 2 ** 31 - 1;

export function localLambdaContext(functionName: string): Context {
  const deadline = Date.now() + noDeadlineMs;
  const unsupported = () => {
    throw new Error('callback-style completion is not used: handlers return a promise');
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: localFunctionArn(functionName),
    memoryLimitInMB: '0',
    awsRequestId: randomUUID(),
    logGroupName: `/local/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}
