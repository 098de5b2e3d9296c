/**
 * How long the extract function may run on one batch. Each Distributed Map batch is an EXPRESS child execution,
 * which Step Functions stops after five minutes, retries included: the timeout must leave room for them.
 */
import type { Retrier } from '../statemachine/definition.ts';

/** A fresh container loads the model (~14 MB of weights) and warms the backend before its first image. */
export const coldStartSeconds = 10;

/**
 * The longest an EXPRESS execution (one Distributed Map child, i.e. one batch) may run
 * (https://docs.aws.amazon.com/step-functions/latest/dg/choosing-workflow-type.html).
 */
export const expressChildLimitSeconds = 300;

/**
 * Twice the expected time of a batch that starts cold: headroom for slow reads and noisy neighbours, while a
 * stuck batch still times out early enough to be retried inside the child's five minutes.
 */
export function extractTimeoutSeconds(maxItemsPerBatch: number, msPerImage: number): number {
  return Math.ceil(2 * (coldStartSeconds + (maxItemsPerBatch * msPerImage) / 1000));
}

/**
 * Errors Lambda raises when it refuses an invocation before the function runs: throttling
 * (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html). An attempt ending in one
 * is short; every other error (a timeout, Lambda.Unknown for a timeout or out-of-memory, a crash, a service or SDK
 * error, one of ours) may come at the end of a full run of the function.
 */
const refusedInvocationErrors = ['Lambda.TooManyRequestsException'];

/**
 * How long a refused invocation takes, round trip. Not a documented figure: an assumption, generous against the
 * milliseconds a throttled Invoke takes.
 */
export const refusedInvocationSeconds = 1;

/** ASL's defaults for the fields a Retrier may leave out (https://states-language.net/spec.html#retrying-after-error). */
const retrierDefaults = { IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2 };

/**
 * The longest waits a Retrier may make: IntervalSeconds × BackoffRate^(n−1) before its n-th retry, capped by
 * MaxDelaySeconds. JitterStrategy FULL draws each wait between 0 and that figure, so the figure is the worst case
 * (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
 */
export function retrierWaitSeconds(retrier: Retrier): number {
  const { IntervalSeconds: interval, MaxAttempts: attempts, BackoffRate: rate } = { ...retrierDefaults, ...retrier };
  let waits = 0;
  for (let n = 0; n < attempts; n++) waits += Math.min(interval * rate ** n, retrier.MaxDelaySeconds ?? Number.POSITIVE_INFINITY);
  return waits;
}

/**
 * The child's longest duration under a Task's Retry list. Each Retrier counts its own attempts, so errors that
 * alternate between Retriers can use every one of them in turn: the first attempt, then every retry of every
 * Retrier (each attempt as long as the function's timeout, unless its Retrier matches only refused invocations),
 * and every Retrier's longest waits. (Were the count shared, the sum would still bound it.)
 */
export function worstCaseChildSeconds(timeoutSeconds: number, retriers: readonly Retrier[]): number {
  let seconds = timeoutSeconds;
  for (const retrier of retriers) {
    const refusedOnly = retrier.ErrorEquals.every((error) => refusedInvocationErrors.includes(error));
    const attemptSeconds = refusedOnly ? refusedInvocationSeconds : timeoutSeconds;
    seconds += (retrier.MaxAttempts ?? retrierDefaults.MaxAttempts) * attemptSeconds + retrierWaitSeconds(retrier);
  }
  return seconds;
}

/**
 * The extract timeout for these settings, or an error when a batch that keeps timing out could outlive its
 * EXPRESS child execution under the given retry policies (one list per Task invoking the function).
 */
export function checkedExtractTimeout(
  maxItemsPerBatch: number,
  msPerImage: number,
  retryPolicies: readonly (readonly Retrier[])[],
): number {
  const timeout = extractTimeoutSeconds(maxItemsPerBatch, msPerImage);
  for (const retriers of retryPolicies) {
    const worst = worstCaseChildSeconds(timeout, retriers);
    if (worst > expressChildLimitSeconds) {
      throw new Error(
        `maxItemsPerBatch ${maxItemsPerBatch} at ${msPerImage} ms per image needs a ${timeout} s extract timeout; with ` +
          `the state machine's retries a batch could take ${worst} s, over the ${expressChildLimitSeconds} s limit of ` +
          'an EXPRESS child execution: lower maxItemsPerBatch',
      );
    }
  }
  return timeout;
}
