/**
 * How long the extract function may run on one batch. Each Distributed Map batch is an EXPRESS child execution,
 * which Step Functions stops after five minutes, retries included: the timeout must leave room for them.
 */
import type { Retrier } from '../statemachine/definition.ts';

/** A fresh container loads the model (~14 MB of weights) and warms the backend before its first image. */
export const coldStartSeconds = 10;

/** The longest an EXPRESS execution (one Distributed Map child, i.e. one batch) may run. */
export const expressChildLimitSeconds = 300;

/**
 * Twice the expected time of a batch that starts cold: headroom for slow reads and noisy neighbours, while a
 * stuck batch still times out early enough to be retried inside the child's five minutes.
 */
export function extractTimeoutSeconds(maxItemsPerBatch: number, msPerImage: number): number {
  return Math.ceil(2 * (coldStartSeconds + (maxItemsPerBatch * msPerImage) / 1000));
}

const timeoutErrors = ['Sandbox.Timedout', 'States.Timeout', 'States.TaskFailed', 'States.ALL'];

/**
 * The child's duration when every attempt runs into the function's timeout: the first attempt, each retry the
 * matching Retrier allows, and the longest waits between them (ASL defaults: 1 s, x2, 3 attempts).
 */
export function worstCaseChildSeconds(timeoutSeconds: number, retriers: readonly Retrier[]): number {
  const retrier = retriers.find((r) => r.ErrorEquals.some((error) => timeoutErrors.includes(error)));
  if (!retrier) return timeoutSeconds;
  const attempts = retrier.MaxAttempts ?? 3;
  let waits = 0;
  for (let i = 0; i < attempts; i++) {
    const wait = (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2) ** i;
    waits += Math.min(wait, retrier.MaxDelaySeconds ?? Number.POSITIVE_INFINITY);
  }
  return (attempts + 1) * timeoutSeconds + waits;
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
