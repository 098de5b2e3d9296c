/**
 * Errors only the local runner raises: what AWS Lambda and Step Functions report under these names (a crashed
 * runtime, a function's error carried across a thread, the Distributed Map's own States.* errors), so that the
 * definition's Retry and Catch match them locally as they would on AWS.
 */
import { FeaturizeError } from '../../functions/shared/errors.ts';

/**
 * The process running a function died mid-invocation: AWS Lambda reports a crashed runtime under this name;
 * the local runner uses it for a worker thread that exited or threw outside the handler. The state machine
 * retries it like the Lambda service errors: a fresh sandbox usually succeeds.
 */
export class RuntimeExitError extends FeaturizeError {
  override name = 'Runtime.ExitError';
}

/**
 * A function's error, carried across a thread boundary (structured clone keeps only standard error names) and
 * rebuilt under its original name, the way Lambda reports a handler's error type to Step Functions.
 */
export class FunctionError extends FeaturizeError {
  constructor(name: string, message: string, stackTrace: readonly string[] = []) {
    super(message);
    this.name = name;
    this.stack = [`${name}: ${message}`, ...stackTrace.map((frame) => `    ${frame}`)].join('\n');
  }
}

/** The Distributed Map's ItemReader could not list or read its items (Step Functions' own error name). */
export class ItemReaderFailedError extends FeaturizeError {
  override name = 'States.ItemReaderFailed';
}

/** The Distributed Map's ResultWriter could not write the map run's results (Step Functions' own error name). */
export class ResultWriterFailedError extends FeaturizeError {
  override name = 'States.ResultWriterFailed';
}

/** More of the map run's items failed than its ToleratedFailurePercentage allows (Step Functions' own error name). */
export class ToleratedFailureThresholdExceededError extends FeaturizeError {
  override name = 'States.ExceedToleratedFailureThreshold';
}

/**
 * The definition asked for something invalid at run time (a batch limit that is not a positive integer...).
 * As on AWS, neither Retry nor Catch applies: aws-local-stepfunctions reads these two flags from the error.
 */
export class StatesRuntimeError extends FeaturizeError {
  override name = 'States.Runtime';
  readonly isRetryable = false;
  readonly isCatchable = false;
}
